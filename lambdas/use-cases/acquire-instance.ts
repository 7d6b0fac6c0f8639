import { createHash } from "node:crypto";
import { capacityWaitOver, capacityWaitSince } from "../domain/capacity-wait.ts";
import { poolJobArrived } from "../domain/cooling-policy.ts";
import {
  type Instance,
  type InstancePool,
  launchInstance,
  marketAllows,
} from "../domain/instance.ts";
import { envHashOf } from "../domain/job-spec.ts";
import { isTerminal, type WaitReason } from "../domain/phases.ts";
import { instanceStatusChanged } from "../domain/status-events.ts";
import type { JobEvent } from "../domain/transitions.ts";
import { ComputeError } from "../ports.ts";
import { agentAccess } from "./agent-identity.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { closeInstance } from "./change-instance.ts";
import { changeInstanceWithJob, claimInstance, type InstancePortName } from "./claim-instance.ts";
import type { Ports } from "./control-plane.ts";
import { stopCoolingTimer } from "./cooling-timers.ts";
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
 * Finds a GPU for a job (see `findInstance`) and starts the timeline's Instance Connect
 * period, which ends when the instance's agent takes the job.
 */
export const acquireInstance = async (cp: AcquirePorts, jobId: string): Promise<Placement> => {
  const placement = await findInstance(cp, jobId);
  const nowS = Date.parse(cp.clock.now()) / 1000;
  await cp.pools.update(placement.pool, (history) => poolJobArrived(history, nowS));
  await cp.jobs.recordTimeline(jobId, "Instance Connect", { startedAt: cp.clock.now() });
  return placement;
};

/**
 * A warm instance of the job's pool, else a stopped one, else a new launch of the first
 * instance type that has capacity (spot first, then on-demand where the spec allows it).
 * The pool names the job's owner: reuse never hands one user's instance to another's job,
 * nor puts an on-demand job on spot capacity.
 */
const findInstance = async (cp: AcquirePorts, jobId: string): Promise<Placement> => {
  let record = await cp.jobs.get(jobId);
  if (!record || isTerminal(record.job.phase)) throw ended(jobId);
  const placed = record.job.phase === "CONNECTING_SERVER" ? record.job.instanceId : undefined;
  if (placed) return placedBefore(cp, jobId, placed);
  if (record.job.phase === "SUBMITTED") record = await apply(cp, jobId, { type: "admitted" });
  if (record.job.phase === "QUEUED") record = await apply(cp, jobId, { type: "capacityAvailable" });
  if (record.job.phase === "RETRY_BACKOFF") record = await apply(cp, jobId, { type: "retryDue" });
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
      const claimed = await claimInstance(cp, jobId, candidate);
      if (claimed.ok) {
        if (candidate.status === "COOLING") {
          await stopCoolingTimer(cp, candidate);
          return { instanceId: candidate.id, placement: "warm", pool };
        }
        try {
          await cp.compute.start(candidate.id, agentAccess(cp, candidate.id));
          // Only once it runs: one that fails to start is stopped again, its timer still on.
          await stopCoolingTimer(cp, candidate);
          return { instanceId: candidate.id, placement: "stopped", pool };
        } catch (error) {
          if (!(error instanceof ComputeError)) throw error;
          await unclaimStopped(cp, jobId, candidate, claimed.instance);
          if (error.code === "Throttled") throw throttled(error);
          continue;
        }
      }
      // Another job won this instance: try the next. If this job moved on, stop here.
      if (claimed.error !== "CONFLICT" || claimed.conflict !== "STALE_INSTANCE") throw ended(jobId);
    }
  }
  return launchNew(cp, jobId, pools, spec.instance, record.job.version);
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
): Promise<void> => {
  const { coolingUntil, stoppedUntil } = stopped;
  const undone = await changeInstanceWithJob(cp, {
    instance: claimed,
    instanceEvent: {
      type: "startFailed",
      ...(coolingUntil && stoppedUntil ? { coolingUntil, stoppedUntil } : {}),
    },
    jobId,
    event: { type: "instanceStartFailed", instanceId: claimed.id },
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
const launchId = (jobId: string, version: number, instanceType: string, spot: boolean) =>
  `gi-${createHash("sha256")
    .update(JSON.stringify([jobId, version, instanceType, spot]))
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
  search: { jobId: string; version: number },
  pools: InstancePool[],
  request: { spot: boolean; onDemandFallback: boolean },
): Promise<Instance | undefined> => {
  for (const pool of pools) {
    for (const spot of marketsOf(request)) {
      const id = launchId(search.jobId, search.version, pool.instanceType, spot);
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
  version: number,
): Promise<Placement> => {
  const recorded = await launchedBefore(cp, { jobId, version }, pools, request);
  if (recorded) return recordLaunch(cp, jobId, recorded);
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
        const instanceId = launchId(jobId, version, pool.instanceType, spot);
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
        return await recordLaunch(cp, jobId, launched);
      } catch (error) {
        if (!(error instanceof ComputeError)) throw error;
        if (error.code === "Throttled") throw throttled(error);
        if (error.code === "InvalidInstanceType") refusals.push(error.message);
        else shortages.push(error);
        if (error.code !== "SpotUnavailable") break;
      }
    }
  }
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
): Promise<Placement> => {
  const at = cp.clock.now();
  await cp.instances.create(instance, at);
  await cp.commands.open(instance.id, instance.providerId);
  await cp.events.publish([instanceStatusChanged(instance, at)]);
  const applied = await applyJobEvent(cp, jobId, {
    type: "instanceLaunched",
    instanceId: instance.id,
  });
  if (!applied.ok) {
    await closeInstance(cp, instance, "terminate");
    throw ended(jobId);
  }
  return { instanceId: instance.id, placement: "launched", pool: instance.pool };
};
