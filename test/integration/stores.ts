import { DynamoInstanceStore } from "../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { MemoryMetrics } from "../../lambdas/adapters/local/memory-metrics.ts";
import { DEFAULT_COST_MODEL, policyCoolingLimits } from "../../lambdas/domain/cooling-policy.ts";
import { type JobSubmission, submitJob } from "../../lambdas/domain/job.ts";
import type { StatusEvent } from "../../lambdas/domain/status-events.ts";
import type { JobRecord } from "../../lambdas/ports.ts";
import { freshTable } from "./table.ts";

/**
 * Both stores on a fresh table of the run's DynamoDB Local, and a bus and metrics that
 * keep what is published.
 */
export const freshStores = async () => {
  const table = await freshTable();
  const jobs = new DynamoJobStore(table);
  const instances = new DynamoInstanceStore(table);
  const published: StatusEvent[] = [];
  const events = { publish: async (batch: StatusEvent[]) => void published.push(...batch) };
  /** The stores with a clock stopped at `time`, as the use cases take them. */
  const metrics = new MemoryMetrics();
  const at = (time: string) => ({
    jobs,
    instances,
    events,
    metrics,
    clock: { now: () => time },
    settings: {
      costModel: DEFAULT_COST_MODEL,
      cooling: policyCoolingLimits(DEFAULT_COST_MODEL),
      spotAllowed: true,
    },
  });
  return { ...table, jobs, instances, published, metrics, at };
};

/** A job record as a submit creates it. */
export const newRecord = (
  submission: Partial<JobSubmission> & { id: string },
  fields: Partial<JobRecord> = {},
): JobRecord => ({
  job: submitJob({ kind: "training", ...submission }),
  owner: "ada",
  name: submission.id,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  timeline: {},
  spec: {
    name: submission.id,
    kind: submission.kind ?? "training",
    instance: { types: ["local"], spot: false, waitRequestS: 600, onDemandFallback: true },
    workers: 1,
    run: "true",
    inputs: [],
    outputs: [],
    backoffLimit: 6,
    review: false,
    env: {},
  },
  ...fields,
});
