import type {
  CostView,
  InstanceView,
  JobEventView,
  JobView,
  ReviewView,
} from "../../../sdk/api-types.ts";
import { type Cost, instanceCost } from "../../domain/cost.ts";
import { type Dialect, jobDialects } from "../../domain/dialects/index.ts";
import { aibroInstanceStatus, type Instance } from "../../domain/instance.ts";
import { type Job, submitJob } from "../../domain/job.ts";
import { jobHistory } from "../../domain/job-history.ts";
import { isTerminal } from "../../domain/phases.ts";
import type { JobEventRecord, JobRecord } from "../../ports.ts";

/** A cost as the API shows it: dollars to the micro-dollar, seconds to the millisecond. */
const costView = (cost: Cost): CostView => {
  const round = (value: number, places: number) => Number(value.toFixed(places));
  return {
    ...cost,
    ...(cost.usd !== undefined ? { usd: round(cost.usd, 6) } : {}),
    items: cost.items.map((item) => ({
      ...item,
      seconds: round(item.seconds, 3),
      ...(item.usd !== undefined ? { usd: round(item.usd, 6) } : {}),
    })),
  };
};

export const jobView = (record: JobRecord, dialect?: Dialect, cost?: Cost): JobView => {
  const { job } = record;
  const dialects = jobDialects(job);
  return {
    id: job.id,
    name: record.name,
    kind: job.kind,
    owner: record.owner,
    phase: job.phase,
    terminal: isTerminal(job.phase),
    ...(job.reason ? { reason: job.reason } : {}),
    ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
    attempt: job.attempt,
    requeues: job.requeues,
    workersReady: job.workersReady,
    workersTotal: job.workersTotal,
    ...(job.instanceId ? { instanceId: job.instanceId } : {}),
    ...(record.modelName ? { modelName: record.modelName } : {}),
    ...(record.endpoint ? { endpoint: record.endpoint } : {}),
    ...(record.spec.checkpointDir ? { checkpointDir: record.spec.checkpointDir } : {}),
    ...(record.replayOf ? { replayOf: record.replayOf } : {}),
    ...(record.description ? { description: record.description } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    dialects,
    ...(dialect ? { status: dialects[dialect] } : {}),
    ...(cost ? { cost: costView(cost) } : {}),
  };
};

export const instanceView = (instance: Instance, now: string): InstanceView => ({
  id: instance.id,
  status: instance.status,
  ...(instance.status === "CLOSING" || instance.status === "CLOSED"
    ? { substatus: instance.substatus }
    : {}),
  aibro: aibroInstanceStatus(instance),
  instanceType: instance.pool.instanceType,
  envHash: instance.pool.envHash,
  region: instance.pool.region,
  spot: instance.spot,
  ...(instance.status === "LAUNCHING" || instance.status === "EXECUTING"
    ? { jobId: instance.jobId }
    : {}),
  ...(instance.status === "COOLING" && instance.coolingUntil
    ? { coolingUntil: instance.coolingUntil }
    : {}),
  ...(instance.stoppedUntil ? { stoppedUntil: instance.stoppedUntil } : {}),
  updatedAt: instance.updatedAt ?? "",
  cost: costView(instanceCost(instance, now)),
});

const jobEventView = (event: JobEventRecord, after: Job): JobEventView => ({
  version: event.version,
  at: event.at,
  type: event.event.type,
  ...(event.from ? { from: event.from } : {}),
  phase: event.phase,
  ...(event.reason ? { reason: event.reason } : {}),
  ...("replayOf" in event.event && event.event.replayOf ? { replayOf: event.event.replayOf } : {}),
  ...(event.by ? { by: { userId: event.by.userId, email: event.by.email } } : {}),
  dialects: jobDialects(after),
});

/** A job's events, each with the dialects of the state it led to. */
export const jobEventViews = (record: JobRecord, events: JobEventRecord[]): JobEventView[] => {
  const { job, spec } = record;
  const submitted = submitJob({
    id: job.id,
    kind: job.kind,
    workers: spec.workers,
    spot: job.spot,
    retryPolicy: job.retryPolicy,
  });
  const states = jobHistory(submitted, events);
  return events.map((event, index) => jobEventView(event, states[index] as Job));
};

/** A job awaiting review, with its cost-relevant fields; `ownerEmail` when its owner is still a user. */
export const reviewView = (record: JobRecord, ownerEmail?: string): ReviewView => {
  const { job, spec } = record;
  return {
    id: job.id,
    name: record.name,
    kind: job.kind,
    owner: record.owner,
    ...(ownerEmail ? { ownerEmail } : {}),
    review: job.review === "RUNNING" ? "RUNNING" : "INIT",
    instanceTypes: spec.instance.types,
    spot: spec.instance.spot,
    workers: spec.workers,
    ...(spec.timeoutS !== undefined ? { timeoutS: spec.timeoutS } : {}),
    ...(spec.coolingPeriodS !== undefined ? { coolingPeriodS: spec.coolingPeriodS } : {}),
    submittedAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
};
