import { DynamoInstanceStore } from "../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { DynamoUserStore } from "../../lambdas/adapters/aws/dynamodb/user-store.ts";
import { ScryptPasswords } from "../../lambdas/adapters/crypto/scrypt-passwords.ts";
import { MemoryCommandQueue } from "../../lambdas/adapters/local/memory-command-queue.ts";
import { MemoryMetrics } from "../../lambdas/adapters/local/memory-metrics.ts";
import { DEFAULT_COST_MODEL, policyCoolingLimits } from "../../lambdas/domain/cooling-policy.ts";
import { type JobSubmission, submitJob } from "../../lambdas/domain/job.ts";
import type { StatusEvent } from "../../lambdas/domain/status-events.ts";
import type { JobRecord } from "../../lambdas/ports.ts";
import type { ControlPlane } from "../../lambdas/use-cases/control-plane.ts";
import { freshTable } from "./table.ts";

/** scrypt at a test's cost: the real one takes 32 MiB and a noticeable time per hash. */
export const testPasswords = new ScryptPasswords({ N: 2 ** 10, r: 8, p: 1 });

/**
 * The stores on a fresh table of the run's DynamoDB Local, and a bus and metrics that
 * keep what is published.
 */
export const freshStores = async () => {
  const table = await freshTable();
  const jobs = new DynamoJobStore(table);
  const instances = new DynamoInstanceStore(table);
  const users = new DynamoUserStore(table);
  const published: StatusEvent[] = [];
  const events = { publish: async (batch: StatusEvent[]) => void published.push(...batch) };
  /** The stores with a clock stopped at `time`, as the use cases take them. */
  const metrics = new MemoryMetrics();
  const at = (time: string) => ({
    jobs,
    instances,
    users,
    passwords: testPasswords,
    events,
    metrics,
    clock: { now: () => time },
    settings: {
      costModel: DEFAULT_COST_MODEL,
      cooling: policyCoolingLimits(DEFAULT_COST_MODEL),
      spotAllowed: true,
    },
  });
  return { ...table, jobs, instances, users, published, metrics, at };
};

/**
 * What the API takes, on fresh stores at `time`: the stores, a memory mailbox, the local
 * region and agent settings, and `ports` (compute, workflows, artifacts) as the test needs them.
 */
export const apiPorts = (
  stores: Awaited<ReturnType<typeof freshStores>>,
  time: string,
  ports: Record<string, unknown>,
): ControlPlane =>
  ({
    ...stores.at(time),
    commands: new MemoryCommandQueue(),
    ...ports,
    settings: {
      ...stores.at(time).settings,
      region: "local",
      agent: { endpoint: "http://127.0.0.1", secret: "s" },
    },
  }) as unknown as ControlPlane;

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
