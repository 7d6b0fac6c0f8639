import { type JobDialects, jobDialects, UNREADABLE_DIALECTS } from "./dialects/index.ts";
import {
  type Instance,
  type InstanceEvent,
  launchInstance,
  transitionInstance,
} from "./instance.ts";
import { isMultiNode, type Job, submitJob } from "./job.ts";
import {
  ATTEMPT_FAILURE_REASONS,
  JOB_KINDS,
  PHASES,
  type Phase,
  type Reason,
  WAIT_REASONS,
} from "./phases.ts";
import { DEFAULT_RETRY_POLICY } from "./retry-policy.ts";
import { type JobEvent, transition } from "./transitions.ts";

/** One instance of every event, with each parameter value the transitions tell apart. */
export const SAMPLE_EVENTS: readonly JobEvent[] = [
  { type: "admitted" },
  { type: "reviewRequested" },
  { type: "reviewStarted" },
  { type: "reviewApproved" },
  { type: "reviewRejected" },
  ...WAIT_REASONS.map((reason) => ({ type: "capacityWait", reason }) as const),
  { type: "capacityAvailable" },
  { type: "capacityWaitExpired" },
  { type: "instanceClaimed", instanceId: "i-0" },
  { type: "instanceLaunched", instanceId: "i-0" },
  { type: "instanceStarted", instanceId: "i-0" },
  { type: "instanceStartFailed", instanceId: "i-0" },
  { type: "agentRegistered", envCached: false },
  { type: "agentRegistered", envCached: true },
  { type: "envReady" },
  { type: "inputsReady" },
  ...[0, 1, 127].map((code) => ({ type: "runExited", code }) as const),
  ...ATTEMPT_FAILURE_REASONS.map((reason) => ({ type: "failed", reason }) as const),
  { type: "resultsReturned" },
  { type: "scaleRequested", workers: 1 },
  { type: "scaleRequested", workers: 2 },
  { type: "scaled" },
  { type: "heartbeatLost" },
  { type: "agentRestarted" },
  { type: "spotInterruptionNotice" },
  { type: "instanceGone" },
  { type: "released" },
  { type: "cancelRequested" },
  { type: "cancelFailed" },
  { type: "timeout" },
  { type: "completeRequested" },
  { type: "retryDue" },
];

/** Every shape a job is submitted in: each kind, single- and multi-node, on-demand and spot. */
export const submissionShapes = (): Job[] =>
  JOB_KINDS.flatMap((kind) =>
    [1, 2].flatMap((workers) =>
      [false, true].map((spot) =>
        submitJob({
          id: `${kind}-${workers}-${spot ? "spot" : "on-demand"}`,
          kind,
          workers,
          spot,
          // One counted retry is enough to reach both the retry and the give-up paths.
          retryPolicy: { ...DEFAULT_RETRY_POLICY, backoffLimit: 1 },
        }),
      ),
    ),
  );

/** Fields that neither a later transition nor a dialect reads, left out of a state's identity. */
const stateKey = ({ version, requeues, exitCode, instanceId, id, ...state }: Job): string =>
  JSON.stringify(state);

/** Every job state reachable from submission, found by trying every sample event in every state. */
export const reachableJobs = (starts: Job[] = submissionShapes()): Job[] => {
  const seen = new Map(starts.map((job) => [stateKey(job), job]));
  const frontier = [...seen.values()];
  for (let job = frontier.pop(); job; job = frontier.pop()) {
    for (const event of SAMPLE_EVENTS) {
      const result = transition(job, event);
      if (!result.ok) continue;
      const key = stateKey(result.job);
      if (!seen.has(key)) {
        seen.set(key, result.job);
        frontier.push(result.job);
      }
    }
  }
  return [...seen.values()];
};

/** Stands in the table for a stored record this version cannot read (damaged, or newer). */
export const UNREADABLE = "UNREADABLE";

export interface DialectRow extends JobDialects {
  phase: Phase | typeof UNREADABLE;
  /** Absent for the unreadable record, whose kind is not known. */
  kind?: Job["kind"];
  nodes?: "single" | "multi";
  reason?: Reason;
  /** What else about the job the dialects read, where it changes their answer. */
  condition?: string;
}

const conditionOf = (job: Job): string | undefined => {
  if (job.phase === "SUBMITTED" && job.review === "APPROVED") return "review approved";
  if (job.phase === "PENDING_REVIEW")
    return job.review === "RUNNING" ? "under review" : "review not started";
  if (job.phase === "CANCELED") return job.ran ? "after it ran" : "before it ran";
  if (job.phase === "TRAINING" && job.scalingTo !== undefined) return "resizing";
  if (job.phase === "CONNECTING_SERVER" && isMultiNode(job)) {
    return `${job.workersReady} of ${job.workersTotal} workers registered`;
  }
  return undefined;
};

const rowOf = (job: Job): DialectRow & { phase: Phase; kind: Job["kind"] } => {
  const condition = conditionOf(job);
  return {
    phase: job.phase,
    kind: job.kind,
    nodes: isMultiNode(job) ? "multi" : "single",
    ...(job.reason ? { reason: job.reason } : {}),
    ...(condition ? { condition } : {}),
    ...jobDialects(job),
  };
};

const rowOrder = (row: DialectRow & { phase: Phase; kind: Job["kind"] }): string =>
  [
    String(PHASES.indexOf(row.phase)).padStart(2, "0"),
    JOB_KINDS.indexOf(row.kind),
    row.nodes,
    row.reason ?? "",
    row.condition ?? "",
  ].join("|");

/**
 * The canonical-to-dialect table: one row per distinct reachable combination, in phase
 * order, then the row of a record this version cannot read (ModelArts 0, Run:ai Unknown).
 */
export const dialectRows = (): DialectRow[] => {
  const rows = new Map(
    reachableJobs()
      .map((job) => rowOf(job))
      .map((row) => [JSON.stringify(row), row]),
  );
  const readable = [...rows.values()].sort((a, b) => rowOrder(a).localeCompare(rowOrder(b)));
  return [
    ...readable,
    {
      phase: UNREADABLE,
      condition: "a stored record this version cannot read",
      ...UNREADABLE_DIALECTS,
    },
  ];
};

const INSTANCE_EVENTS: readonly InstanceEvent[] = [
  { type: "agentRegistered" },
  { type: "jobRunning" },
  { type: "released", coolingUntil: "2026-01-01T00:10:00Z", stoppedUntil: "2026-01-01T01:00:00Z" },
  { type: "claimed", jobId: "job-2" },
  { type: "started", jobId: "job-2" },
  ...(["stop", "terminate"] as const).flatMap((action) => [
    { type: "coolingExpired", coolingEpoch: 1, action } as const,
    { type: "closeRequested", action } as const,
  ]),
  { type: "coolingFailed", coolingEpoch: 1, cause: "timer failed" },
  { type: "stopped" },
  { type: "terminated" },
];

/** Every instance state reachable from a launch, on-demand and spot, within two cooling periods. */
export const reachableInstances = (): Instance[] => {
  const pool = { instanceType: "g5.xlarge", envHash: "env", region: "us-east-1", owner: "ada" };
  const starts = [false, true].map((spot) =>
    launchInstance({ id: "i-0", pool, spot, jobId: "job-1" }),
  );
  const key = ({ version, ...state }: Instance) => JSON.stringify(state);
  const seen = new Map(starts.map((instance) => [key(instance), instance]));
  const frontier = [...seen.values()];
  for (let instance = frontier.pop(); instance; instance = frontier.pop()) {
    for (const event of INSTANCE_EVENTS) {
      const result = transitionInstance(instance, event);
      if (result.ok && result.instance.coolingEpoch <= 2 && !seen.has(key(result.instance))) {
        seen.set(key(result.instance), result.instance);
        frontier.push(result.instance);
      }
    }
  }
  return [...seen.values()];
};
