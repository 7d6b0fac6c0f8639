import { createHash } from "node:crypto";
import { capacityWaitOver, capacityWaitSince } from "../domain/capacity-wait.ts";
import {
  type CoolingSchedule,
  type Instance,
  type InstancePool,
  launchInstance,
  marketAllows,
} from "../domain/instance.ts";
import { isMultiNode, type Job } from "../domain/job.ts";
import { envHashOf } from "../domain/job-spec.ts";
import { isTerminal, type WaitReason } from "../domain/phases.ts";
import { arrivalChange } from "../domain/pool-history.ts";
import { instanceStatusChanged } from "../domain/status-events.ts";
import type { JobEvent } from "../domain/transitions.ts";
import { ComputeError, type JobRecord } from "../ports.ts";
import { agentAccess } from "./agent-identity.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { carryOutClose, changeInstance, closeInstance } from "./change-instance.ts";
import {
  changeInstanceWithJob,
  claimInstance,
  type InstancePortName,
  type Role,
} from "./claim-instance.ts";
import type { Ports } from "./control-plane.ts";
import { stopCoolingTimer } from "./cooling-timers.ts";
import { recordPoolChange } from "./record-pool-change.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

export interface Placement {
  instanceId: string;
  /** warm: a COOLING instance; stopped: a STOPPED one started again; launched: a new one. */
  placement: "warm" | "stopped" | "launched";
  pool: InstancePool;
}

/**
 * What finding a GPU uses: the stores, the compute, the agent access a launch hands out,
 * and the cooling timer of the instance it takes.
 */
type AcquirePorts = Ports<InstancePortName | "coolingTimers", "region" | "agent" | "costModel">;

const ended = (jobId: string) =>
  new WorkflowError(WORKFLOW_ERRORS.jobEnded, `job ${jobId} has ended`);

/** The compute refused a call for its request rate: the workflow asks again later, the job as it is. */
const throttled = (error: ComputeError) =>
  new WorkflowError(WORKFLOW_ERRORS.throttled, error.message);

/** Applies an event the workflow needs; if the job moved on (canceled, timed out), the workflow stops. */
const apply = async (
  cp: Ports<"jobs" | "events" | "metrics" | "clock">,
  jobId: string,
  event: JobEvent,
) => {
  const applied = await applyJobEvent(cp, jobId, event);
  if (!applied.ok) throw ended(jobId);
  return applied.record;
};

/**
 * One search for an instance: for whom (`Role`), and what to give back before the job
 * waits for capacity or fails (a multi-node job's workers taken so far; nothing for a
 * single node).
 */
interface Search {
  role: Role;
  /** The rank it is for: 0 for a leader or a single node. */
  rank: number;
  giveBack: () => Promise<void>;
  /** A warm instance taken for a worker: its timer and plan, kept until the set is whole. */
  tookWarm: (instance: Instance) => void;
}

const SINGLE_NODE: Search = {
  role: "leader",
  rank: 0,
  giveBack: async () => {},
  tookWarm: () => {},
};

/**
 * Finds a GPU for a job (see `findInstance`; all of a multi-node job's, see `placeSet`) and
 * starts the timeline's Instance Connect period, which ends when the instance's agent takes
 * the job.
 */
export const acquireInstance = async (cp: AcquirePorts, jobId: string): Promise<Placement> => {
  const { placement, job } = await placeJob(cp, jobId);
  // The pool's arrival is recorded at placement, not at submit: only then is the pool known
  // (a job may name several instance types, and lands in one), and only then does the job
  // need an instance (a wait for review or for capacity holds none). Named by the attempt,
  // it is recorded once per placement: a retried acquire that finds its placement made
  // (CONNECTING_SERVER) records the same arrival again, a no-op; one throttled or short of
  // capacity placed nothing and records nothing until its placement.
  await recordPoolChange(cp, placement.pool, arrivalChange(job, Date.parse(cp.clock.now()) / 1000));
  await cp.jobs.recordTimeline(jobId, "Instance Connect", { startedAt: cp.clock.now() });
  return placement;
};

/**
 * The job's placement: the one a crashed run of this search made, else a new one, once the
 * job is moved to REQUESTING_SERVER from wherever its wait for a GPU began; and the job as
 * it was placed.
 */
const placeJob = async (
  cp: AcquirePorts,
  jobId: string,
): Promise<{ placement: Placement; job: Job }> => {
  let record = await cp.jobs.get(jobId);
  if (!record || isTerminal(record.job.phase)) throw ended(jobId);
  const placed = record.job.phase === "CONNECTING_SERVER" ? record.job.instanceId : undefined;
  if (placed) return { placement: await placedBefore(cp, jobId, placed), job: record.job };
  if (record.job.phase === "SUBMITTED") record = await apply(cp, jobId, { type: "admitted" });
  if (record.job.phase === "QUEUED") record = await apply(cp, jobId, { type: "capacityAvailable" });
  if (record.job.phase === "RETRY_BACKOFF") record = await apply(cp, jobId, { type: "retryDue" });
  const placement = await (isMultiNode(record.job)
    ? placeSet(cp, record)
    : findInstance(cp, record, SINGLE_NODE));
  return { placement, job: record.job };
};

/**
 * A multi-node job takes all its instances or none. Its workers (ranks 1 to N-1) are taken
 * one by one, each claim or launch one conditional write of the instance with the job, then
 * its leader (rank 0), whose placement moves the job on; a job is never half placed and
 * CONNECTING_SERVER. A rank that cannot be placed gives back every worker taken (`giveBackSet`),
 * then the job waits for capacity (QUEUED, until `waitRequestS`) or fails, as a single
 * node's does. A throttled search keeps them: the workflow's next try takes only the ranks
 * still missing. A warm worker's cooling timer is stopped only once the set is whole, so one
 * given back cools on under the timer it had.
 */
const placeSet = async (cp: AcquirePorts, record: JobRecord): Promise<Placement> => {
  const warm = new Map<string, Instance>();
  const jobId = record.job.id;
  const worker: Search = {
    role: "worker",
    rank: 1,
    giveBack: () => giveBackSet(cp, jobId, warm),
    tookWarm: (instance) => warm.set(instance.id, instance),
  };
  // Each rank's search reads the job as the last one left it: its version names its launch.
  const current = async () => (await cp.jobs.get(jobId)) ?? record;
  const placed = record.job.workerInstanceIds?.length ?? 0;
  for (let rank = placed + 1; rank < record.job.workersTotal; rank++)
    await findInstance(cp, await current(), { ...worker, rank });
  const leader = await findInstance(cp, await current(), { ...worker, role: "leader", rank: 0 });
  for (const instance of warm.values()) await stopCoolingTimer(cp, instance);
  return leader;
};

/**
 * Gives back the workers a multi-node job holds, last taken first, each in one transaction
 * with the job: a warm one cools on as it was (`taken` has its plan), any other (launched,
 * started from stopped, or taken by an earlier try whose plan is not known here) is
 * terminated, as an instance whose agent never answered this job is. Stops at the first
 * that the job no longer holds (it moved on): its workflow's release frees the rest.
 */
const giveBackSet = async (
  cp: AcquirePorts,
  jobId: string,
  taken: ReadonlyMap<string, Instance>,
): Promise<void> => {
  const record = await cp.jobs.get(jobId);
  for (const id of [...(record?.job.workerInstanceIds ?? [])].reverse()) {
    const instance = await cp.instances.get(id);
    if (!instance) return;
    const { coolingUntil, stoppedUntil } = taken.get(id) ?? {};
    const schedule: CoolingSchedule | undefined =
      coolingUntil && stoppedUntil ? { coolingUntil, stoppedUntil } : undefined;
    const given = await changeInstanceWithJob(cp, {
      instance,
      instanceEvent: schedule
        ? { type: "unclaimed", ...schedule }
        : { type: "closeRequested", action: "terminate" },
      jobId,
      event: { type: "workerReleased", instanceId: id },
    });
    if (!given.ok) return;
    if (!schedule) {
      await carryOutClose(cp, id, "terminate");
      await changeInstance(cp, given.instance, { type: "terminated" });
    }
  }
};

/**
 * A warm instance of the job's pool, else a stopped one, else a new launch of the first
 * instance type that has capacity (spot first, then on-demand where the spec allows it).
 * The pool names the job's owner: reuse never hands one user's instance to another's job,
 * nor puts an on-demand job on spot capacity.
 */
const findInstance = async (
  cp: AcquirePorts,
  record: JobRecord,
  search: Search,
): Promise<Placement> => {
  const jobId = record.job.id;
  const { spec } = record;
  const envHash = envHashOf(spec);
  const pools: InstancePool[] = spec.instance.types.map((instanceType) => ({
    instanceType,
    envHash,
    region: cp.settings.region,
    owner: record.owner,
  }));

  for (const pool of pools) {
    const candidates = await cp.instances.findReusable(pool);
    for (const candidate of candidates.filter((instance) =>
      marketAllows(spec.instance, instance),
    )) {
      const claimed = await claimInstance(cp, jobId, candidate, search.role);
      if (claimed.ok) {
        if (candidate.status === "COOLING") {
          if (search.role === "worker") search.tookWarm(candidate);
          else await stopCoolingTimer(cp, candidate);
          return { instanceId: candidate.id, placement: "warm", pool };
        }
        try {
          await cp.compute.start(candidate.id, agentAccess(cp, candidate.id));
          // Only once it runs: one that fails to start is stopped again, its timer still on.
          await stopCoolingTimer(cp, candidate);
          return { instanceId: candidate.id, placement: "stopped", pool };
        } catch (error) {
          if (!(error instanceof ComputeError)) throw error;
          await unclaimStopped(cp, jobId, candidate, claimed.instance, search.role);
          if (error.code === "Throttled") throw throttled(error);
          continue;
        }
      }
      // Another job won this instance: try the next. If this job moved on, stop here.
      if (claimed.error !== "CONFLICT" || claimed.conflict !== "STALE_INSTANCE") throw ended(jobId);
    }
  }
  return launchNew(cp, jobId, pools, spec.instance, { version: record.job.version, search });
};

/**
 * A claimed stopped instance that the compute could not start is stopped again, with its
 * cooling plan, and the job looks further; if either moved on meanwhile, the workflow stops.
 */
const unclaimStopped = async (
  cp: Ports<"jobs" | "instances" | "events" | "metrics" | "clock", "costModel">,
  jobId: string,
  stopped: Instance,
  claimed: Instance,
  role: Role,
): Promise<void> => {
  const { coolingUntil, stoppedUntil } = stopped;
  const undone = await changeInstanceWithJob(cp, {
    instance: claimed,
    instanceEvent: {
      type: "startFailed",
      ...(coolingUntil && stoppedUntil ? { coolingUntil, stoppedUntil } : {}),
    },
    jobId,
    event: {
      type: role === "leader" ? "instanceStartFailed" : "workerReleased",
      instanceId: claimed.id,
    },
  });
  if (!undone.ok) throw ended(jobId);
};

/**
 * A retried acquire whose first run placed the job (and died before it answered): that
 * placement, with what that run may not have done yet, each idempotent: a claimed stopped
 * instance started, a claimed instance's cooling timer stopped. An instance never cooled
 * before was launched for the job.
 */
const placedBefore = async (
  cp: AcquirePorts,
  jobId: string,
  instanceId: string,
): Promise<Placement> => {
  const instance = await cp.instances.get(instanceId);
  if (instance?.status !== "LAUNCHING" || instance.jobId !== jobId) throw ended(jobId);
  if (instance.coolingEpoch === 0)
    return { instanceId, placement: "launched", pool: instance.pool };
  if (!instance.agentReady) await cp.compute.start(instanceId, agentAccess(cp, instanceId));
  await stopCoolingTimer(cp, instance);
  return { instanceId, placement: instance.agentReady ? "warm" : "stopped", pool: instance.pool };
};

/**
 * The id of the instance one search for a GPU launches of a type: the same for a retried
 * search (the job's version is that of its search), so the compute, which launches an id
 * once, gives a retry the instance its first run launched rather than a second GPU.
 */
const launchId = (
  jobId: string,
  version: number,
  instanceType: string,
  spot: boolean,
  // A multi-node job's worker: one id per rank (a leader's is a single node's).
  rank: number,
) =>
  `gi-${createHash("sha256")
    .update(
      JSON.stringify(
        rank === 0
          ? [jobId, version, instanceType, spot]
          : [jobId, version, instanceType, spot, rank],
      ),
    )
    .digest("hex")
    .slice(0, 16)}`;

/** The tries of one pool: spot, then on-demand where the spec allows falling back. */
const marketsOf = (request: { spot: boolean; onDemandFallback: boolean }): boolean[] =>
  request.spot && request.onDemandFallback ? [true, false] : [request.spot];

/**
 * An instance a crashed run of this search launched and recorded but never gave the job:
 * its retry takes that one, whichever try the capacity would favour now, rather than
 * launch a second GPU of another type or market.
 */
const launchedBefore = async (
  cp: AcquirePorts,
  search: { jobId: string; version: number; rank: number },
  pools: InstancePool[],
  request: { spot: boolean; onDemandFallback: boolean },
): Promise<Instance | undefined> => {
  for (const pool of pools) {
    for (const spot of marketsOf(request)) {
      const id = launchId(search.jobId, search.version, pool.instanceType, spot, search.rank);
      const known = await cp.instances.get(id);
      if (known?.status === "LAUNCHING" && known.jobId === search.jobId) return known;
    }
  }
  return undefined;
};

const launchNew = async (
  cp: AcquirePorts,
  jobId: string,
  pools: InstancePool[],
  request: { spot: boolean; onDemandFallback: boolean; waitRequestS: number },
  tries: { version: number; search: Search },
): Promise<Placement> => {
  const { version, search } = tries;
  const recorded = await launchedBefore(cp, { jobId, version, rank: search.rank }, pools, request);
  if (recorded) return recordLaunch(cp, jobId, recorded, search.role);
  const offered = await cp.compute.instanceTypes();
  const refusals: string[] = [];
  const shortages: ComputeError[] = [];
  for (const pool of pools) {
    if (!offered.includes(pool.instanceType)) {
      refusals.push(`${pool.instanceType} is not offered (offered: ${offered.join(", ")})`);
      continue;
    }
    for (const spot of marketsOf(request)) {
      try {
        const requestedAt = cp.clock.now();
        const instanceId = launchId(jobId, version, pool.instanceType, spot, search.rank);
        const { providerId } = await cp.compute.launch({
          instanceId,
          instanceType: pool.instanceType,
          spot,
          jobId,
          owner: pool.owner,
          envHash: pool.envHash,
          ...(spot ? { waitRequestS: request.waitRequestS } : {}),
          region: pool.region,
          agent: agentAccess(cp, instanceId),
        });
        if (spot) {
          const period = { startedAt: requestedAt, endedAt: cp.clock.now() };
          await cp.jobs.recordTimeline(jobId, "Request Launch", period);
        }
        const launched = launchInstance({ id: instanceId, providerId, pool, spot, jobId });
        return await recordLaunch(cp, jobId, launched, search.role);
      } catch (error) {
        if (!(error instanceof ComputeError)) throw error;
        if (error.code === "Throttled") throw throttled(error);
        if (error.code === "InvalidInstanceType") refusals.push(error.message);
        else shortages.push(error);
        if (error.code !== "SpotUnavailable") break;
      }
    }
  }
  await search.giveBack();
  if (shortages.length > 0) return waitForCapacity(cp, jobId, request.waitRequestS, shortages);
  await apply(cp, jobId, { type: "failed", reason: "LAUNCH_FAILED" });
  throw new WorkflowError(WORKFLOW_ERRORS.launchFailed, refusals.join("; "));
};

/**
 * No capacity for any of the job's instance types: the job waits QUEUED, and its workflow
 * asks again after a back-off, until it has waited `waitRequestS` since it first went QUEUED
 * in this search for a GPU; then it fails NO_CAPACITY rather than wait for ever.
 */
const waitForCapacity = async (
  cp: AcquirePorts,
  jobId: string,
  waitRequestS: number,
  shortages: ComputeError[],
): Promise<never> => {
  const why = `no capacity for any instance type of the job: ${shortages.map((error) => error.message).join("; ")}`;
  const now = cp.clock.now();
  const since = capacityWaitSince(await cp.jobs.events(jobId)) ?? now;
  if (capacityWaitOver(since, now, waitRequestS)) {
    await apply(cp, jobId, { type: "capacityWaitExpired" });
    throw new WorkflowError(
      WORKFLOW_ERRORS.launchFailed,
      `${why}; waited since ${since}, past its waitRequestS of ${waitRequestS} s`,
    );
  }
  // A quota is lifted by asking AWS, not by waiting: the job says which it waits on.
  const reason: WaitReason = shortages.every((error) => error.code === "QuotaExceeded")
    ? "QUOTA_EXCEEDED"
    : "INSUFFICIENT_CAPACITY";
  await apply(cp, jobId, { type: "capacityWait", reason });
  throw new WorkflowError(WORKFLOW_ERRORS.noCapacity, why);
};

/** Records a launched instance for the job; if the job moved on meanwhile, the instance goes at once. */
const recordLaunch = async (
  cp: AcquirePorts,
  jobId: string,
  instance: Instance,
  role: Role,
): Promise<Placement> => {
  const at = cp.clock.now();
  await cp.instances.create(instance, at);
  await cp.commands.open(instance.id, instance.providerId);
  await cp.events.publish([instanceStatusChanged(instance, at)]);
  const applied = await applyJobEvent(cp, jobId, {
    type: role === "leader" ? "instanceLaunched" : "workerPlaced",
    instanceId: instance.id,
  });
  if (!applied.ok) {
    await closeInstance(cp, instance, "terminate");
    throw ended(jobId);
  }
  return { instanceId: instance.id, placement: "launched", pool: instance.pool };
};
