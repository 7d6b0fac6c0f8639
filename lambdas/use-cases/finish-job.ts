import { coolingPlanFor, coolingSchedule } from "../domain/cooling-policy.ts";
import { type Caller, may } from "../domain/identity.ts";
import type { Instance } from "../domain/instance.ts";
import { placementOf } from "../domain/job.ts";
import { HOLDING_PHASES } from "../domain/phases.ts";
import { idleChange } from "../domain/pool-history.ts";
import { backoffDelayS } from "../domain/retry-policy.ts";
import { isRequeued, type JobEvent } from "../domain/transitions.ts";
import { type Actor, InvalidExecutionName, type JobRecord, PayloadTooLarge } from "../ports.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { changeInstance, closeInstance, finishClose } from "./change-instance.ts";
import type { InstancePortName } from "./claim-instance.ts";
import type { Ports } from "./control-plane.ts";
import { coolingTimerName, retryName } from "./execution-names.ts";
import { actor, awaitsReviewBy, readableBy } from "./job-access.ts";
import { type AccessFailure, type Failure, forbidden, notFound } from "./outcome.ts";
import { recordPoolChange } from "./record-pool-change.ts";
import { startOnce } from "./start-workflow.ts";
import { holdTaskToken } from "./task-token.ts";
import { tellAgent } from "./tell-agent.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

/** What freeing a job's instance uses: stopping it, cooling it, and starting its next attempt. */
type ReleasePorts = Ports<InstancePortName | "workflows", "costModel" | "cooling">;

/** What ending a job from outside its workflow uses: the job, its agent, and its workflow. */
type InterruptPorts = Ports<"jobs" | "commands" | "workflows" | "events" | "metrics" | "clock">;

/** What stopping or terminating an instance uses. */
type ClosePorts = Ports<
  "instances" | "compute" | "commands" | "events" | "metrics" | "clock",
  "costModel"
>;

/**
 * Puts a freed instance in its cooling period, its plan recorded on it: when it will be
 * stopped and then terminated (unless a job claims it first). Recorded before the timer
 * that carries the plan out starts, so even a plan of 0 s finds the instance cooling.
 * Not `warm`: the plan's stopped part alone, its timer stopping the instance at once.
 */
const cool = async (
  cp: Ports<"instances" | "pools" | "events" | "metrics" | "clock", "costModel" | "cooling">,
  record: JobRecord,
  instance: Instance,
  warm: boolean,
): Promise<Instance | undefined> => {
  const now = cp.clock.now();
  const { history, fleet } = await recordPoolChange(
    cp,
    instance.pool,
    idleChange(instance, Date.parse(now) / 1000),
  );
  const plan = coolingPlanFor({
    jobCoolingPeriodS: record.spec.coolingPeriodS,
    spot: instance.spot,
    poolGaps: history.gaps,
    fleet,
    model: cp.settings.costModel,
    limits: cp.settings.cooling,
  });
  const cooled = await changeInstance(cp, instance, {
    type: "released",
    ...coolingSchedule(warm ? plan : { ...plan, warmS: 0 }, now),
  });
  return cooled.ok ? cooled.instance : undefined;
};

/**
 * Starts the timer that carries out a cooling instance's plan, as recorded on it: one per
 * cooling period, named after it. A retried release (its first run may have died between
 * recording the cooling and starting the timer) finds it started, or starts it. A timer
 * refused outright leaves no instance cooling unwatched: it is terminated at once. Any
 * other failure may have started it (the answer lost): the release is retried, and should
 * its retries run out, the reaper ends the instance when its plan does.
 */
const startCoolingTimer = async (
  cp: Ports<
    "instances" | "compute" | "commands" | "workflows" | "events" | "metrics" | "clock",
    "costModel"
  >,
  instance: Instance,
): Promise<void> => {
  const { id, coolingEpoch, coolingUntil, stoppedUntil } = instance;
  if (instance.status !== "COOLING" || !coolingUntil || !stoppedUntil) return;
  const until = Date.parse(coolingUntil);
  const plan = {
    warmS: Math.max(0, Math.ceil((until - Date.parse(cp.clock.now())) / 1000)),
    stoppedS: Math.round((Date.parse(stoppedUntil) - until) / 1000),
  };
  const name = coolingTimerName(id, coolingEpoch);
  try {
    await startOnce(cp.workflows, "instance-cooling", name, {
      instanceId: id,
      coolingEpoch,
      ...plan,
    });
  } catch (error) {
    if (error instanceof InvalidExecutionName || error instanceof PayloadTooLarge)
      await abandonCooling(cp, { instanceId: id, coolingEpoch, cause: String(error) });
    throw error;
  }
};

/** What becomes of the job's instance now that the job no longer runs on it. */
const freeInstance = async (cp: ReleasePorts, record: JobRecord, instance: Instance) => {
  const { job } = record;
  // Only an instance still booting or executing for this very job is this job's to free;
  // one cooling already was freed by this release run before, or by a later job's.
  const owned =
    (instance.status === "LAUNCHING" || instance.status === "EXECUTING") &&
    instance.jobId === job.id;
  // A close this release began before, whose call failed or whose run died: done now.
  if (instance.status === "CLOSING") {
    await finishClose(cp, instance, instance.substatus === "STOPPING" ? "stop" : "terminate");
    return;
  }
  if (!owned) return instance.status === "COOLING" ? startCoolingTimer(cp, instance) : undefined;
  // Every instance left standing has its end recorded and a timer to carry it out: one that
  // cannot get both (nothing on it can be trusted, or its agent never answered) goes now.
  // An agent that stopped answering may have left anything behind; one that never answered
  // leaves nothing known to work for the next job.
  const untrusted =
    job.phase === "LOST" || (instance.status === "LAUNCHING" && !instance.agentReady);
  if (untrusted) {
    await closeInstance(cp, instance, "terminate");
    return;
  }
  // A deployment completed on purpose shuts down at once, as AIbro does (and as deleting a
  // SageMaker endpoint does): it is stopped, then terminated when its plan's stopped time ends.
  const completedDeployment = job.phase === "COMPLETED" && job.kind === "inference";
  const cooled = await cool(cp, record, instance, !completedDeployment);
  if (cooled) await startCoolingTimer(cp, cooled);
};

/**
 * Frees the instance; a canceled job whose instance could not be stopped or terminated
 * shows it (CANCELING, DELETE_FAILED: ModelArts 6) rather than end CANCELED on a GPU that
 * may still bill. The instance stays CLOSING: the workflow retries the release, then the
 * reaper keeps trying, and the job ends CANCELED once a close succeeds.
 */
const freeOrReport = async (cp: ReleasePorts, record: JobRecord, instance: Instance) => {
  try {
    await freeInstance(cp, record, instance);
  } catch (error) {
    // An error already named for the workflow (a pool history kept out by contention, to be
    // retried as throttled) says what it is: only a close that failed is the cancel's failure.
    if (record.job.phase !== "CANCELING" || error instanceof WorkflowError) throw error;
    if (record.job.reason !== "DELETE_FAILED")
      await applyJobEvent(cp, record.job.id, { type: "cancelFailed" });
    throw new WorkflowError(
      WORKFLOW_ERRORS.closeFailed,
      `instance ${instance.id} of canceled job ${record.job.id} was not released: ${String(error)}`,
    );
  }
};

/**
 * The attempt ended without the job saying why (a step's handler failed, or a branch the
 * workflow did not expect): the retry policy decides, as for any failed attempt.
 */
const unexplainedEnd = (record: JobRecord): JobEvent | undefined => {
  const { phase } = record.job;
  if ((HOLDING_PHASES as readonly string[]).includes(phase))
    return { type: "failed", reason: "INIT_FAILED" };
  if (phase === "REQUESTING_SERVER" && !isRequeued(record.job))
    return { type: "failed", reason: "LAUNCH_FAILED" };
  return undefined;
};

/** How long the next execution waits before it asks for a server, or undefined for no next execution. */
const nextAttemptDelayS = (job: JobRecord["job"]): number | undefined => {
  if (job.phase === "RETRY_BACKOFF") return backoffDelayS(job.attempt + job.requeues - 1);
  // Requeued after a preemption: at once. Still short of capacity: try again later.
  if (job.phase === "REQUESTING_SERVER") return 0;
  if (job.phase === "QUEUED") return CAPACITY_RECHECK_S;
  return undefined;
};

/** How long a job short of capacity waits before its next try, once its acquire retries ran out. */
const CAPACITY_RECHECK_S = 900;

/**
 * The workflow's last step for an attempt: frees the instance (cooling it for the next
 * job when it is healthy), ends a cancel, and starts the next attempt when one is due.
 * Every attempt is its own execution, named after the job's version, so none starts twice.
 */
export const releaseInstance = async (cp: ReleasePorts, jobId: string): Promise<void> => {
  let record = await cp.jobs.get(jobId);
  if (!record) throw new WorkflowError(WORKFLOW_ERRORS.jobEnded, `job ${jobId} not found`);
  const unexplained = unexplainedEnd(record);
  if (unexplained) {
    const failed = await applyJobEvent(cp, jobId, unexplained);
    if (failed.ok) record = failed.record;
  }
  const instance = record.job.instanceId
    ? await cp.instances.get(record.job.instanceId)
    : undefined;
  // A close the compute refused (throttled, unreachable) leaves the instance CLOSING for the
  // reaper to finish; the job's next attempt must not be lost with it, so it starts first.
  // A cancel is not over until its instance is released.
  const unfreed = await freeEveryRank(cp, record, instance).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (record.job.phase === "CANCELING" && !unfreed) {
    const released = await applyJobEvent(cp, jobId, { type: "released" });
    if (released.ok) record = released.record;
  }
  const retryDelayS = nextAttemptDelayS(record.job);
  if (retryDelayS !== undefined) {
    await startOnce(cp.workflows, "job-lifecycle", retryName(jobId, record.job.version), {
      jobId,
      review: false,
      retryDelayS,
    });
  }
  if (unfreed) throw unfreed;
};

/**
 * The leader's instance (a single node's), then a multi-node job's other ranks', of this
 * placement and of any it lost: each worker's agent drops its part of the job (the
 * leader's run is over, or the attempt is), then its instance is freed as the leader's is.
 */
const freeEveryRank = async (
  cp: ReleasePorts,
  record: JobRecord,
  leader: Instance | undefined,
): Promise<void> => {
  if (leader) await freeOrReport(cp, record, leader);
  const placement = placementOf(record.job);
  const former = (record.job.formerInstanceIds ?? []).filter((id) => !placement.includes(id));
  for (const id of [...placement.slice(1), ...former]) {
    await tellAgent(cp, id, { type: "abort", jobId: record.job.id });
    const worker = await cp.instances.get(id);
    if (worker) await freeOrReport(cp, record, worker);
  }
};

/**
 * Ends a job from outside its workflow (cancel, complete, timeout): the job changes first,
 * then its agent drops the work and the task its workflow waits on fails with `error`.
 * `by`: the user who asked; none for the deadline.
 */
const interrupt = async (
  cp: InterruptPorts,
  jobId: string,
  event: JobEvent,
  error: string,
  by?: Actor,
): Promise<{ ok: true; record: JobRecord } | Failure> => {
  const applied = await applyJobEvent(cp, jobId, event, by);
  if (!applied.ok) return applied;
  const { before } = applied;
  await tellAgentAndWorkflow(cp, applied.record, error, `${event.type} while ${before.job.phase}`);
  return applied;
};

/** The job's agent drops the work, and the task its workflow waits on fails with `error`. */
const tellAgentAndWorkflow = async (
  cp: Ports<"commands" | "workflows">,
  record: JobRecord,
  error: string,
  cause: string,
) => {
  for (const id of placementOf(record.job))
    await tellAgent(cp, id, { type: "abort", jobId: record.job.id });
  // A task over already (its workflow moved on) takes the report as a no-op.
  if (record.taskToken) await cp.workflows.sendTaskFailure(record.taskToken, error, cause);
};

/** The workflow waits for a reviewer: the job is PENDING_REVIEW until one decides. */
export const requestReview = async (
  cp: Ports<"jobs" | "events" | "metrics" | "clock">,
  task: { jobId: string; taskToken: string },
) => {
  const record = await cp.jobs.get(task.jobId);
  // Already under review (a restarted workflow): only the task the reviewer ends is new.
  if (record?.job.phase !== "PENDING_REVIEW") {
    const applied = await applyJobEvent(cp, task.jobId, { type: "reviewRequested" });
    if (!applied.ok) throw new WorkflowError(WORKFLOW_ERRORS.jobEnded, applied.message);
  }
  await holdTaskToken(cp, task.jobId, task.taskToken);
};

export const REVIEW_DECISIONS = ["start", "approve", "reject"] as const;

export const OWN_REVIEW =
  "the owner of a job cannot review it: a reviewer or admin who is not its owner approves, starts or rejects its review";

/**
 * A reviewer's step: `start` marks the review as under way; `approve` lets the workflow go
 * on to acquire a GPU; `reject` fails the job (REVIEW_REJECTED) and ends its workflow. The
 * job's events name `caller` as who decided. Its owner is refused, naming the rule; anyone
 * who may not read the job (only a reviewer or admin may, while it awaits review) learns
 * nothing of it: not even that it exists, or its phase.
 */
export const reviewJob = async (
  cp: InterruptPorts,
  jobId: string,
  decision: (typeof REVIEW_DECISIONS)[number],
  caller: Caller,
): Promise<{ ok: true; record: JobRecord } | Failure | AccessFailure> => {
  const record = await cp.jobs.get(jobId);
  if (record?.owner === caller.userId) return forbidden(OWN_REVIEW);
  if (!record || !awaitsReviewBy(caller, record)) return notFound(`job ${jobId}`);
  const by = actor(caller);
  if (decision === "reject") {
    return interrupt(cp, jobId, { type: "reviewRejected" }, WORKFLOW_ERRORS.reviewRejected, by);
  }
  const type = decision === "start" ? "reviewStarted" : "reviewApproved";
  const applied = await applyJobEvent(cp, jobId, { type }, by);
  if (!applied.ok || decision !== "approve") return applied;
  // The wait for a reviewer is the job's creation, not its instance's connection, which
  // would otherwise take it in (timelinePeriods gives a gap to the period after it).
  const created = applied.before.timeline["Job Create"];
  if (created && !created.endedAt)
    await cp.jobs.recordTimeline(jobId, "Job Create", {
      ...created,
      endedAt: applied.record.updatedAt,
    });
  if (applied.before.taskToken)
    await cp.workflows.sendTaskSuccess(applied.before.taskToken, { approved: true });
  return applied;
};

/**
 * Cancel or complete, asked by `caller`: its owner, or an admin stopping another user's
 * runaway job (`may`'s `job.stop`), who the job's events then name. A caller who may read
 * the job but not stop it is refused; anyone else learns nothing of it.
 */
const stopJob = async (
  cp: InterruptPorts,
  jobId: string,
  caller: Caller,
  stop: { event: JobEvent; error: string; verb: string },
): Promise<{ ok: true; record: JobRecord } | Failure | AccessFailure> => {
  const record = await cp.jobs.get(jobId);
  if (!record) return notFound(`job ${jobId}`);
  if (!may(caller, "job.stop", record.owner)) {
    return readableBy(caller, record)
      ? forbidden(`only a job's owner or an admin ${stop.verb} it`)
      : notFound(`job ${jobId}`);
  }
  if (stop.event.type === "cancelRequested" && cancelUnderWay(record)) {
    await tellAgentAndWorkflow(cp, record, stop.error, `${stop.event.type} while CANCELING`);
    return { ok: true, record };
  }
  return interrupt(cp, jobId, stop.event, stop.error, actor(caller));
};

export const cancelJob = (cp: InterruptPorts, jobId: string, caller: Caller) =>
  stopJob(cp, jobId, caller, {
    event: { type: "cancelRequested" },
    error: WORKFLOW_ERRORS.canceled,
    verb: "cancels",
  });

/**
 * A cancel asked again of a job already CANCELING (a retried request, its first run maybe
 * dead before it told the agent and the workflow) tells them again and changes nothing
 * else: one cancel in the job's history. One held up by its instance keeps showing
 * DELETE_FAILED until the reaper's retried close succeeds.
 */
const cancelUnderWay = (record: JobRecord): boolean => record.job.phase === "CANCELING";

export const completeJob = (cp: InterruptPorts, jobId: string, caller: Caller) =>
  stopJob(cp, jobId, caller, {
    event: { type: "completeRequested" },
    error: WORKFLOW_ERRORS.completed,
    verb: "completes",
  });

/** The job's deadline passed: it ends TIMED_OUT in whatever phase it was, unless it had ended. */
export const timeOutJob = async (
  cp: InterruptPorts,
  jobId: string,
): Promise<{ timedOut: boolean }> => {
  const done = await interrupt(cp, jobId, { type: "timeout" }, WORKFLOW_ERRORS.timedOut);
  return { timedOut: done.ok };
};

/**
 * The warm part of the cooling plan is over: the instance is stopped (or terminated, when
 * the plan keeps it stopped for no time or it is spot), unless a job claimed it since.
 */
export const expireCooling = async (
  cp: ClosePorts,
  input: { instanceId: string; coolingEpoch: number; stoppedS: number },
): Promise<{ closed: boolean; stopped: boolean }> => {
  const instance = await cp.instances.get(input.instanceId);
  if (!instance) return { closed: false, stopped: false };
  const action = input.stoppedS > 0 && !instance.spot ? "stop" : "terminate";
  const closed = await closeInstance(cp, instance, action, {
    type: "coolingExpired",
    coolingEpoch: input.coolingEpoch,
    action,
  });
  return { closed: closed.ok, stopped: closed.ok && action === "stop" };
};

/** The stopped part of the plan is over: the instance goes, unless it was started again since. */
export const expireStopped = async (
  cp: ClosePorts,
  input: { instanceId: string; coolingEpoch: number },
): Promise<{ terminated: boolean }> => {
  const instance = await cp.instances.get(input.instanceId);
  const stillStopped =
    instance?.status === "CLOSED" &&
    instance.substatus === "STOPPED" &&
    instance.coolingEpoch === input.coolingEpoch;
  if (!stillStopped) return { terminated: false };
  return { terminated: (await closeInstance(cp, instance, "terminate")).ok };
};

/**
 * The cooling timer failed (a task it ran, or the execution itself): the instance is
 * terminated now rather than left running or stopped with nothing to end it, unless a job
 * took it since. The instance's event names the failure.
 */
export const abandonCooling = async (
  cp: ClosePorts,
  input: { instanceId: string; coolingEpoch: number; cause: string },
): Promise<{ terminated: boolean }> => {
  const instance = await cp.instances.get(input.instanceId);
  if (!instance) return { terminated: false };
  const closed = await closeInstance(cp, instance, "terminate", {
    type: "coolingFailed",
    coolingEpoch: input.coolingEpoch,
    cause: input.cause,
  });
  return { terminated: closed.ok };
};
