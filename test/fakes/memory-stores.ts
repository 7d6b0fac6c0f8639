/**
 * The job and instance stores in memory, with DynamoDB's guarantees that the use cases rely
 * on: a job change is written only if the job is still in the phase and version it was read
 * at, an instance change only if the instance is still at its version, and an instance change
 * with its job change both or neither. Every read hands out a copy, as a store does. For
 * property tests that run the use cases hundreds of times, where DynamoDB Local's round trips
 * would take minutes; the stores themselves are tested against DynamoDB Local elsewhere.
 */
import { EMPTY_FLEET, type FleetGaps, fleetSource } from "../../lambdas/domain/cooling-policy.ts";
import type { Instance, InstancePool, InstanceStatus } from "../../lambdas/domain/instance.ts";
import type { Phase } from "../../lambdas/domain/phases.ts";
import {
  applyPoolChange,
  EMPTY_POOL_HISTORY,
  type PoolChange,
  type PoolEvidence,
  recordFleetGaps,
  type StoredPoolHistory,
} from "../../lambdas/domain/pool-history.ts";
import type { Timeline, TimelinePhase } from "../../lambdas/domain/timeline.ts";
import type {
  InstanceChange,
  InstanceStore,
  JobChange,
  JobEventRecord,
  JobRecord,
  JobStore,
  Page,
  PoolStats,
  Submission,
  SubmitResult,
  WriteResult,
} from "../../lambdas/ports.ts";

const copy = <T>(value: T): T => structuredClone(value);

const byRecentFirst = <T extends { updatedAt?: string }>(items: T[]): T[] =>
  items.toSorted((a, b) => (b.updatedAt ?? "").localeCompare(a.updatedAt ?? ""));

const poolKey = (pool: InstancePool) =>
  `${pool.instanceType}#${pool.envHash}#${pool.region}#${pool.owner}`;

/** The fields of a job record a phase change leaves as they are. */
const withoutUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;

export class MemoryJobStore implements JobStore {
  readonly records = new Map<string, JobRecord>();
  readonly history = new Map<string, JobEventRecord[]>();
  /** Every transition written, in order: what a test checks each change against. */
  readonly written: JobChange[] = [];

  async submit({ record, by }: Submission): Promise<SubmitResult> {
    if (this.records.has(record.job.id))
      return { ok: false, conflict: "JOB_EXISTS", message: `job ${record.job.id} exists` };
    this.records.set(record.job.id, copy(record));
    this.history.set(record.job.id, [
      {
        jobId: record.job.id,
        version: record.job.version,
        at: record.createdAt,
        event: { type: "submitted" },
        phase: record.job.phase,
        ...(by ? { by } : {}),
      },
    ]);
    return { ok: true, record: copy(record), replayed: false };
  }

  async get(jobId: string) {
    const record = this.records.get(jobId);
    return record && copy(record);
  }

  async listByOwner(owner: string): Promise<Page<JobRecord>> {
    return { items: [...this.records.values()].filter((r) => r.owner === owner).map(copy) };
  }

  async events(jobId: string) {
    return copy(this.history.get(jobId) ?? []);
  }

  async activeDeployment() {
    return undefined;
  }

  async listByPhase(phase: Phase) {
    return byRecentFirst([...this.records.values()].filter((r) => r.job.phase === phase)).map(copy);
  }

  async pageByPhase(phase: Phase) {
    return { items: (await this.listByPhase(phase)).toReversed() };
  }

  /** Whether `change` may be written now: the job is still as it was read. */
  stale(change: JobChange): WriteResult | undefined {
    const current = this.records.get(change.after.id);
    const { phase, version } = change.before.job;
    return current?.job.phase === phase && current.job.version === version
      ? undefined
      : { ok: false, conflict: "STALE_JOB", message: `job ${change.after.id} changed since read` };
  }

  /** Writes a change `stale` allowed. */
  write(change: JobChange): void {
    this.written.push(copy(change));
    const current = this.records.get(change.after.id) as JobRecord;
    this.records.set(change.after.id, {
      ...current,
      job: withoutUndefined(copy(change.after)),
      updatedAt: change.at,
    });
    this.history.get(change.after.id)?.push({
      jobId: change.after.id,
      version: change.after.version,
      at: change.at,
      event: copy(change.event),
      from: change.before.job.phase,
      phase: change.after.phase,
      ...(change.after.reason ? { reason: change.after.reason } : {}),
      ...(change.by ? { by: change.by } : {}),
    });
  }

  async apply(change: JobChange): Promise<WriteResult> {
    const refused = this.stale(change);
    if (refused) return refused;
    this.write(change);
    return { ok: true };
  }

  private setField(jobId: string, set: (record: JobRecord) => JobRecord): WriteResult {
    const record = this.records.get(jobId);
    if (!record)
      return { ok: false, conflict: "STALE_JOB", message: `job ${jobId} does not exist` };
    this.records.set(jobId, set(record));
    return { ok: true };
  }

  async recordTimeline(
    jobId: string,
    phase: TimelinePhase,
    period: NonNullable<Timeline[TimelinePhase]>,
  ) {
    return this.setField(jobId, (r) => ({ ...r, timeline: { ...r.timeline, [phase]: period } }));
  }

  async timeline(jobId: string) {
    return copy(this.records.get(jobId)?.timeline);
  }

  async setEndpoint(jobId: string, endpoint: string) {
    return this.setField(jobId, (r) => ({ ...r, endpoint }));
  }

  async setTaskToken(jobId: string, taskToken: string) {
    return this.setField(jobId, (r) => ({ ...r, taskToken }));
  }
}

export class MemoryInstanceStore implements InstanceStore {
  readonly records = new Map<string, Instance>();
  readonly #jobs: MemoryJobStore;

  constructor(jobs: MemoryJobStore) {
    this.#jobs = jobs;
  }

  async create(instance: Instance, at: string): Promise<WriteResult> {
    if (this.records.has(instance.id))
      return { ok: false, conflict: "INSTANCE_EXISTS", message: `instance ${instance.id} exists` };
    this.records.set(instance.id, { ...copy(instance), updatedAt: at });
    return { ok: true };
  }

  async get(instanceId: string) {
    const instance = this.records.get(instanceId);
    return instance && copy(instance);
  }

  async findReusable(pool: InstancePool) {
    const inPool = [...this.records.values()].filter((i) => poolKey(i.pool) === poolKey(pool));
    const cooling = inPool.filter((i) => i.status === "COOLING");
    const stopped = inPool.filter((i) => i.status === "CLOSED" && i.substatus === "STOPPED");
    return [...byRecentFirst(cooling), ...byRecentFirst(stopped)].map(copy);
  }

  async listByStatus(status: InstanceStatus) {
    return byRecentFirst([...this.records.values()].filter((i) => i.status === status)).map(copy);
  }

  async getByProviderId(providerId: string) {
    const found = [...this.records.values()].find((i) => i.providerId === providerId);
    return found && copy(found);
  }

  async apply(change: InstanceChange, jobChange?: JobChange): Promise<WriteResult> {
    const current = this.records.get(change.after.id);
    if (current?.version !== change.before.version) {
      return {
        ok: false,
        conflict: "STALE_INSTANCE",
        message: `instance ${change.after.id} changed since read`,
      };
    }
    const refused = jobChange && this.#jobs.stale(jobChange);
    if (refused) return refused;
    this.records.set(change.after.id, { ...copy(change.after), updatedAt: change.at });
    if (jobChange) this.#jobs.write(jobChange);
    return { ok: true };
  }
}

export class MemoryPoolStats implements PoolStats {
  readonly #histories = new Map<string, StoredPoolHistory>();
  #fleet: FleetGaps = EMPTY_FLEET;

  async update(pool: InstancePool, change: PoolChange): Promise<PoolEvidence> {
    const stored = this.#histories.get(poolKey(pool)) ?? EMPTY_POOL_HISTORY;
    const applied = applyPoolChange(stored, change);
    if (applied) {
      this.#histories.set(poolKey(pool), applied.stored);
      this.#fleet = recordFleetGaps(
        this.#fleet,
        applied.recorded,
        stored.gaps,
        fleetSource(pool.owner),
      );
    }
    const { idleSince, gaps } = applied?.stored ?? stored;
    return copy({ history: { idleSince, gaps }, fleet: this.#fleet });
  }
}

/** Fresh job and instance stores that share one "table", so a paired change is atomic. */
export const memoryStores = () => {
  const jobs = new MemoryJobStore();
  return { jobs, instances: new MemoryInstanceStore(jobs), pools: new MemoryPoolStats() };
};
