import type { Instance, InstancePool } from "../../../domain/instance.ts";
import type { Job } from "../../../domain/job.ts";
import { readJobRecord } from "../../../domain/job-record.ts";
import { type JobEventRecord, type JobRecord, UnreadableJobError } from "../../../ports.ts";

/**
 * An owner as one key segment. Owners are user ids, but a key must not trust them; encoded, one
 * never holds a `#`, so no owner's key can spell another owner's.
 */
const ownerSegment = (owner: string) => encodeURIComponent(owner);

const poolSegments = (pool: InstancePool) =>
  `${pool.instanceType}#${pool.envHash}#${pool.region}#${ownerSegment(pool.owner)}`;

/** Key builders: the item layout of docs/storage.md, in one place. */
export const keys = {
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: "JOB" }),
  jobEvent: (jobId: string, version: number) => ({
    pk: `JOB#${jobId}`,
    sk: `EVENT#${String(version).padStart(10, "0")}`,
  }),
  eventPrefix: "EVENT#",
  modelLock: (owner: string, modelName: string) => ({
    pk: `MODEL#${ownerSegment(owner)}#${modelName}`,
    sk: "MODEL",
  }),
  instance: (instanceId: string) => ({ pk: `INSTANCE#${instanceId}`, sk: "INSTANCE" }),
  idempotency: (owner: string, key: string) => ({
    pk: `IDEMPOTENCY#${owner}#${key}`,
    sk: "IDEMPOTENCY",
  }),
  owner: (owner: string) => `OWNER#${owner}`,
  jobStatus: (phase: string) => `JOBSTATUS#${phase}`,
  instanceStatus: (status: string) => `INSTANCESTATUS#${status}`,
  providerId: (providerId: string) => `PROVIDER#${providerId}`,
  poolStats: (pool: InstancePool) => ({ pk: `POOLSTATS#${poolSegments(pool)}`, sk: "POOLSTATS" }),
  /** Every pool's recent gaps; no pool's key is this one, as each holds `#`s. */
  fleetStats: { pk: "POOLSTATS#FLEET", sk: "POOLSTATS" },
  pool: (pool: InstancePool, status: "COOLING" | "STOPPED") =>
    `POOL#${poolSegments(pool)}#${status}`,
  user: (email: string) => ({ pk: `USER#${email}`, sk: "USER" }),
  /** What is kept of a removed user: who they were, and who removed them when. */
  removedUser: (email: string, at: string, userId: string) => ({
    pk: `USER#${email}`,
    sk: `REMOVED#${at}#${userId}`,
  }),
  /** Written with the installation's first user, so that only one setup ever makes one. */
  firstUser: () => ({ pk: "SETUP", sk: "FIRST_USER" }),
  adminCount: () => ({ pk: "SETUP", sk: "ADMIN_COUNT" }),
  users: "USERS",
  token: (hash: string) => ({ pk: `TOKEN#${hash}`, sk: "TOKEN" }),
  userTokens: (userId: string) => `TOKENS#${userId}`,
  loginFailures: (email: string) => ({ pk: `LOGIN#${email}`, sk: "LOGIN" }),
};

/** Job fields a transition may clear; the others are always present. */
export const OPTIONAL_JOB_FIELDS = [
  "reason",
  "exitCode",
  "review",
  "scalingTo",
  "instanceId",
  "workerInstanceIds",
  "ranksDone",
  "formerInstanceIds",
] as const;

export const jobStatusIndex = (job: Job, updatedAt: string) => ({
  gsi3pk: keys.jobStatus(job.phase),
  gsi3sk: `${updatedAt}#${job.id}`,
});

export const jobItem = (record: JobRecord) => ({
  ...keys.job(record.job.id),
  ...record.job,
  owner: record.owner,
  name: record.name,
  createdAt: record.createdAt,
  updatedAt: record.updatedAt,
  ...(record.modelName ? { modelName: record.modelName } : {}),
  ...(record.endpoint ? { endpoint: record.endpoint } : {}),
  ...(record.replayOf ? { replayOf: record.replayOf } : {}),
  ...(record.description ? { description: record.description } : {}),
  timeline: record.timeline,
  spec: record.spec,
  gsi1pk: keys.owner(record.owner),
  gsi1sk: `${record.createdAt}#${record.job.id}`,
  ...jobStatusIndex(record.job, record.updatedAt),
});

export const jobRecordFrom = (item: Record<string, unknown>): JobRecord => {
  const job = readJobRecord(item);
  if (!job) throw new UnreadableJobError(item);
  const {
    owner,
    name,
    createdAt,
    updatedAt,
    modelName,
    endpoint,
    taskToken,
    replayOf,
    description,
    timeline,
    spec,
  } = item as unknown as JobRecord;
  return {
    job,
    owner,
    name,
    createdAt,
    updatedAt,
    timeline,
    spec,
    ...(modelName ? { modelName } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(taskToken ? { taskToken } : {}),
    ...(replayOf ? { replayOf } : {}),
    ...(description ? { description } : {}),
  };
};

/**
 * The records among listed items that this version can read. One it cannot (damaged, or
 * written by a newer version) must not take a whole listing, or a restart, down with it.
 */
export const readableJobRecords = (items: Array<Record<string, unknown>>): JobRecord[] =>
  items.flatMap((item) => {
    try {
      return [jobRecordFrom(item)];
    } catch (error) {
      if (!(error instanceof UnreadableJobError)) throw error;
      console.warn(error.message);
      return [];
    }
  });

export const jobEventItem = (record: JobEventRecord, expiresAt: number) => ({
  ...keys.jobEvent(record.jobId, record.version),
  ...record,
  expiresAt,
});

export const jobEventFrom = (item: Record<string, unknown>): JobEventRecord => {
  const { pk, sk, expiresAt, ...record } = item;
  return record as unknown as JobEventRecord;
};

export const instanceItem = (instance: Instance, updatedAt: string) => {
  const reusable =
    instance.status === "COOLING"
      ? "COOLING"
      : instance.status === "CLOSED" && instance.substatus === "STOPPED"
        ? "STOPPED"
        : undefined;
  return {
    ...keys.instance(instance.id),
    ...instance,
    updatedAt,
    ...(instance.providerId
      ? { gsi1pk: keys.providerId(instance.providerId), gsi1sk: instance.id }
      : {}),
    ...(reusable
      ? { gsi2pk: keys.pool(instance.pool, reusable), gsi2sk: `${updatedAt}#${instance.id}` }
      : {}),
    gsi3pk: keys.instanceStatus(instance.status),
    gsi3sk: `${updatedAt}#${instance.id}`,
  };
};

export const instanceFrom = (item: Record<string, unknown>): Instance => {
  const { pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ...instance } = item;
  return instance as unknown as Instance;
};
