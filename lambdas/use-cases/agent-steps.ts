import { boundReport, type Command, cut, type JobAssignment } from "../../agent/protocol.ts";
import { isMultiNode, type Job, placementOf, rankOf } from "../domain/job.ts";
import { envHashOf } from "../domain/job-spec.ts";
import { LIMITS } from "../domain/limits.ts";
import {
  type AttemptFailureReason,
  isTerminal,
  type Phase,
  SETUP_FAILURE_REASON,
} from "../domain/phases.ts";
import { underFolder } from "../domain/results.ts";
import type { JobEvent } from "../domain/transitions.ts";
import type { JobRecord } from "../ports.ts";
import { type Assignment, assignmentCredential, assignmentHolds } from "./agent-identity.ts";
import { type Applied, applyJobEvent } from "./apply-job-event.ts";
import { changeInstance } from "./change-instance.ts";
import type { Ports } from "./control-plane.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";
import { holdTaskToken } from "./task-token.ts";
import { tellAgent } from "./tell-agent.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

export const AGENT_STEPS = ["prepare", "gearUp", "sendInputs", "run", "returnResults"] as const;
export type AgentStep = (typeof AGENT_STEPS)[number];

/** Why a step failed, in the canonical model's words (and so in every dialect's). */
const FAILURE_REASON: Record<AgentStep, AttemptFailureReason> = {
  prepare: "INIT_FAILED",
  gearUp: SETUP_FAILURE_REASON,
  sendInputs: "MOUNT_FAILED",
  run: "CONTAINER_CANNOT_RUN",
  returnResults: "RESULT_TRANSFER_FAILED",
};

/**
 * Run:ai's distributed jobs fail their init containers, not their image: a multi-node
 * job's env set-up that fails is an init failure (Init:CrashLoopBackOff, then Init:Error).
 */
const failureReasonOf = (step: AgentStep, job: Job): AttemptFailureReason =>
  step === "gearUp" && isMultiNode(job) ? "INIT_FAILED" : FAILURE_REASON[step];

interface AgentTask {
  jobId: string;
  step: AgentStep;
  taskToken: string;
}

/**
 * The agent gets an envelope around the workflow's task token naming the job and step,
 * and hands it back with its report; the token itself is checked against the job record.
 */
const sealTask = (task: AgentTask): string =>
  Buffer.from(JSON.stringify(task)).toString("base64url");

const openTask = (sealed: string): AgentTask | undefined => {
  try {
    const task = JSON.parse(Buffer.from(sealed, "base64url").toString("utf8")) as AgentTask;
    // The job id becomes a store key: one too long for a key is no job's.
    return AGENT_STEPS.includes(task.step) &&
      typeof task.jobId === "string" &&
      task.jobId.length <= LIMITS.pathSegmentChars
      ? task
      : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Where the agent fetches each input: an uploaded one by a download URL made now, as the
 * command goes out (on AWS a presigned URL that soon expires), with the SHA-256 it must have.
 */
const inputsOf = (cp: Ports<"artifacts">, record: JobRecord) =>
  Promise.all(
    // A `file` input never reaches a stored spec: the API takes it uploaded, by its sha256.
    record.spec.inputs
      .flatMap((input) => ("file" in input ? [] : [input]))
      .map(async (input) =>
        "sha256" in input
          ? { ...input, url: await cp.artifacts.inputDownload(record.owner, input.sha256) }
          : input,
      ),
  );

/**
 * The checkpoint the job's earlier attempts saved (its results under `checkpointDir`: the
 * last upload of each file), for its agent to fetch before the run, so that a requeued or
 * retried job resumes where it stopped. Download URLs are made now, as an input's are.
 */
const checkpointOf = async (
  cp: Ports<"artifacts">,
  record: JobRecord,
): Promise<NonNullable<JobAssignment["checkpoint"]>> => {
  const { checkpointDir } = record.spec;
  if (!checkpointDir) return [];
  const inCheckpoint = underFolder(checkpointDir);
  const paths: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await cp.artifacts.listOutputs(record.job.id, cursor ? { cursor } : {});
    paths.push(...page.items.filter(inCheckpoint));
    cursor = page.cursor;
  } while (cursor);
  return Promise.all(
    paths.map(async (path) => ({
      path,
      url: await cp.artifacts.outputDownload(record.job.id, path, "agent"),
    })),
  );
};

/**
 * What the agent gets with a command: the job, and the credential of this attempt of it on
 * this instance (with the address a deployment serves at, for its run).
 */
const assignmentOf = (
  record: JobRecord,
  files: { inputs: JobAssignment["inputs"]; checkpoint: NonNullable<JobAssignment["checkpoint"]> },
  access: { secret: string; assignment: Assignment },
  multiNode?: JobAssignment["multiNode"],
): JobAssignment => {
  const { spec } = record;
  const { serve } = access.assignment;
  return {
    jobId: record.job.id,
    kind: spec.kind,
    envHash: envHashOf(spec),
    ...(spec.setup ? { setup: spec.setup } : {}),
    run: spec.run,
    env: spec.env,
    inputs: files.inputs,
    outputs: spec.outputs,
    ...(spec.checkpointDir ? { checkpointDir: spec.checkpointDir } : {}),
    ...(files.checkpoint.length > 0 ? { checkpoint: files.checkpoint } : {}),
    ...(spec.serve && serve ? { serve: { ...serve, healthPath: spec.serve.healthPath } } : {}),
    ...(multiNode ? { multiNode } : {}),
    credential: assignmentCredential(access.secret, access.assignment),
  };
};

/** The phase a job is in while its agent carries out each step. */
const PHASE_OF_STEP: Record<AgentStep, Phase> = {
  prepare: "CONNECTING_SERVER",
  gearUp: "GEARING_UP_ENV",
  sendInputs: "SENDING_MODEL_AND_DATA",
  run: "TRAINING",
  returnResults: "RETURNING",
};

/**
 * The port a multi-node job's workers usually meet their leader at (PyTorch's default
 * MASTER_PORT); the job is told the leader's host and picks its own port.
 */
const RENDEZVOUS_PORT = 29500;

/** Where a multi-node job's workers reach their leader: its private address. */
const leaderAddress = async (cp: Ports<"compute">, leaderId: string): Promise<string> =>
  (await cp.compute.serviceAddress(leaderId, RENDEZVOUS_PORT)).host;

/**
 * The instances a step goes to: every rank's, but the results come from the leader alone.
 * Every rank's agent carries out the step under the one task token the workflow waits on,
 * and the job moves on once all of them reported it (see `reportStepSuccess`). One token
 * shared by the ranks, rather than a Map state over them, keeps the workflow as it is for a
 * single node, and each rank's report is one conditional write of the job.
 */
const ranksOf = (job: Job, step: AgentStep): string[] =>
  step === "returnResults" ? placementOf(job).slice(0, 1) : placementOf(job);

/**
 * Hands one step of a job to its instances' agents; the workflow waits on `taskToken`. A
 * job that moved on meanwhile (canceled, completed, timed out) gets no further step.
 */
export const dispatchStep = async (
  cp: Ports<"jobs" | "compute" | "artifacts" | "commands", "agent">,
  task: AgentTask,
): Promise<void> => {
  const record = await cp.jobs.get(task.jobId);
  const instanceId = record?.job.instanceId;
  if (!record || !instanceId || record.job.phase !== PHASE_OF_STEP[task.step]) {
    throw new WorkflowError(
      WORKFLOW_ERRORS.jobEnded,
      `job ${task.jobId} is not waiting for ${task.step}`,
    );
  }
  await holdTaskToken(cp, task.jobId, task.taskToken);
  const { attempt, requeues } = record.job;
  const serve =
    task.step === "run" && record.spec.serve
      ? await cp.compute.serviceAddress(instanceId, record.spec.serve.port)
      : undefined;
  const files = {
    inputs: await inputsOf(cp, record),
    // Fetched with the inputs: only that step needs it.
    checkpoint: task.step === "sendInputs" ? await checkpointOf(cp, record) : [],
  };
  const worldSize = record.job.workersTotal;
  const leaderAddr = isMultiNode(record.job) ? await leaderAddress(cp, instanceId) : undefined;
  for (const [rank, rankInstance] of ranksOf(record.job, task.step).entries()) {
    const assignment: Assignment = {
      instanceId: rankInstance,
      jobId: task.jobId,
      attempt,
      requeues,
      ...(serve && rank === 0 ? { serve } : {}),
    };
    const command = {
      type: task.step,
      taskToken: sealTask(task),
      job: assignmentOf(
        record,
        files,
        { secret: cp.settings.agent.secret, assignment },
        leaderAddr === undefined ? undefined : { rank, worldSize, leaderAddr },
      ),
    } as Command;
    await cp.commands.push(rankInstance, command);
  }
};

/**
 * A job being preempted keeps its workflow waiting on the step's task whatever its agent
 * reports: the instance's end fails the task (`instanceGone`) and requeues the job. Told
 * sooner, the workflow would free an instance about to be reclaimed, and cool it for the
 * next job.
 */
const awaitsEviction = (record: JobRecord | undefined): boolean =>
  record?.job.phase === "PREEMPTING";

/**
 * The report came too late: the job moved on while its agent worked. The workflow still
 * waits on this task, so it learns the job has ended, and goes on to free the instance.
 */
const endTask = async (
  cp: Ports<"jobs" | "workflows">,
  task: AgentTask,
  refusal: Failure,
): Promise<Failure> => {
  if (awaitsEviction(await cp.jobs.get(task.jobId))) return refusal;
  await cp.workflows.sendTaskFailure(task.taskToken, WORKFLOW_ERRORS.jobEnded, refusal.message);
  return refusal;
};

/**
 * What a rank's report of a step means for the job (`rank` only for a multi-node job), or
 * nothing: a worker's run that exited 0 leaves the job's end to its leader's run.
 */
const eventFor = (
  step: AgentStep,
  output: Record<string, unknown>,
  rank?: number,
): JobEvent | undefined => {
  const ranked = rank === undefined ? {} : { rank };
  switch (step) {
    case "prepare":
      return { type: "agentRegistered", envCached: output.envCached === true, ...ranked };
    case "gearUp":
      return { type: "envReady", ...ranked };
    case "sendInputs":
      return { type: "inputsReady", ...ranked };
    case "run": {
      const code = typeof output.exitCode === "number" ? output.exitCode : 1;
      return rank !== undefined && rank > 0 && code === 0 ? undefined : { type: "runExited", code };
    }
    case "returnResults":
      return { type: "resultsReturned" };
  }
};

/**
 * The task an agent reports on, if it is the one the job's workflow waits for and the
 * reporting agent holds the assignment of the job's current attempt. A report on a job that
 * has ended is let through: it cannot change the job, and its workflow still hears of it.
 */
const currentTask = async (
  cp: Ports<"jobs">,
  assignment: Assignment,
  sealed: string,
): Promise<{ task: AgentTask; record: JobRecord; rank: number } | Failure> => {
  const task = openTask(sealed);
  if (!task) return refused("taskToken: not a token this control plane handed out");
  const record = await cp.jobs.get(task.jobId);
  if (!record || task.jobId !== assignment.jobId || !assignmentHolds(assignment, record.job, "any"))
    return notFound(`job ${task.jobId} in this assignment`);
  if (record.taskToken !== task.taskToken) {
    return conflict({
      conflict: "STALE_JOB",
      message: `job ${task.jobId} no longer waits for this ${task.step}`,
    });
  }
  return { task, record, rank: rankOf(record.job, assignment.instanceId) ?? 0 };
};

/**
 * The job left the step's phase while its workflow still waits on the step's task, and
 * has not ended: the agent's report was applied, and this is that report again (it is
 * retried when the workflow could not be told the first time).
 */
const alreadyReported = (record: JobRecord, task: AgentTask): boolean =>
  record.job.phase !== PHASE_OF_STEP[task.step] &&
  !isTerminal(record.job.phase) &&
  record.job.phase !== "CANCELING";

/**
 * The ranks of a multi-node job report each step at about the same time, each report one
 * conditional write of the job: one that lost the race to another's is not refused, it is
 * read again. Each lost race means another report was written, so it ends.
 */
const lostRace = (applied: Applied): boolean =>
  !applied.ok && applied.error === "CONFLICT" && applied.conflict === "STALE_JOB";

/** This rank's report was counted while it was applied again (the agent sent it twice at once). */
const countedMeanwhile = async (cp: Ports<"jobs">, task: AgentTask, rank: number) => {
  const record = await cp.jobs.get(task.jobId);
  return (
    record !== undefined &&
    (record.job.ranksDone?.includes(rank) === true || alreadyReported(record, task))
  );
};

/**
 * The agent finished a step: the job moves on, and so does its workflow. A multi-node job's
 * rank is counted, and the job and its workflow move on with the last rank's report.
 */
export const reportStepSuccess = async (
  cp: Ports<
    "jobs" | "instances" | "workflows" | "commands" | "events" | "metrics" | "clock",
    "costModel"
  >,
  assignment: Assignment,
  sealed: string,
  output: Record<string, unknown>,
): Promise<{ ok: true } | Failure> => {
  const current = await currentTask(cp, assignment, sealed);
  if (!("task" in current)) return current;
  const { task, record, rank } = current;
  if (awaitsEviction(record))
    return refused(`job ${task.jobId} is being preempted: its instance's end decides what follows`);
  const multiNode = isMultiNode(record.job);
  if (alreadyReported(record, task)) {
    // An earlier delivery of this report moved the job; its instance or the workflow missed it.
    await instanceFollowsJob(cp, task.step, record, assignment.instanceId);
    await cp.workflows.sendTaskSuccess(task.taskToken, {
      ...boundReport(output),
      phase: record.job.phase,
    });
    return { ok: true };
  }
  // This rank's report again, counted already: the job waits for the other ranks.
  if (multiNode && record.job.ranksDone?.includes(rank)) return { ok: true };
  const event = eventFor(task.step, output, multiNode ? rank : undefined);
  if (!event) return { ok: true };
  const applied = await applyJobEvent(cp, task.jobId, event);
  // Another report was written first: this one is taken again from the job as it is now.
  const again = !applied.ok && (lostRace(applied) || (await countedMeanwhile(cp, task, rank)));
  if (multiNode && again) return reportStepSuccess(cp, assignment, sealed, output);
  if (!applied.ok) return endTask(cp, task, applied);
  await instanceFollowsJob(cp, task.step, applied.record, assignment.instanceId);
  if (applied.record.job.phase === PHASE_OF_STEP[task.step]) return { ok: true };
  if (multiNode && task.step === "run")
    await stopOtherRanks(cp, applied.record, assignment.instanceId);
  if (task.step === "prepare") {
    const connect = record.timeline["Instance Connect"];
    if (connect) {
      await cp.jobs.recordTimeline(task.jobId, "Instance Connect", {
        ...connect,
        endedAt: cp.clock.now(),
      });
    }
  }
  await cp.workflows.sendTaskSuccess(task.taskToken, {
    ...boundReport(output),
    phase: applied.record.job.phase,
  });
  return { ok: true };
};

/**
 * The instances' status follows their job's, as AIbro's map has it: LAUNCHING while the job
 * is set up (the reporting agent now known to answer once it took the job), EXECUTING, every
 * rank's, once it runs.
 */
const instanceFollowsJob = async (
  cp: Ports<"instances" | "events" | "metrics" | "clock", "costModel">,
  step: AgentStep,
  record: JobRecord,
  reporter: string,
) => {
  const running = record.job.phase === "TRAINING" || record.job.phase === "RETURNING";
  for (const id of running ? placementOf(record.job) : [reporter]) {
    const instance = await cp.instances.get(id);
    if (instance?.status !== "LAUNCHING" || instance.jobId !== record.job.id) continue;
    if (running) await changeInstance(cp, instance, { type: "jobRunning" });
    else if (step === "prepare" && !instance.agentReady)
      await changeInstance(cp, instance, { type: "agentRegistered" });
  }
};

/**
 * A rank's run ended the attempt (the leader's exited, or a worker's failed): the other
 * ranks' runs are stopped, their agents dropping the job.
 */
const stopOtherRanks = async (
  cp: Ports<"commands">,
  record: JobRecord,
  reporter: string,
): Promise<void> => {
  for (const id of placementOf(record.job).filter((other) => other !== reporter))
    await tellAgent(cp, id, { type: "abort", jobId: record.job.id });
};

/** The agent could not do a step: the retry policy decides, and the workflow catches the error. */
export const reportStepFailure = async (
  cp: Ports<"jobs" | "workflows" | "events" | "metrics" | "clock">,
  assignment: Assignment,
  sealed: string,
  failure: { error: string; cause: string },
): Promise<{ ok: true } | Failure> => {
  const current = await currentTask(cp, assignment, sealed);
  if (!("task" in current)) return current;
  const { task, record } = current;
  if (awaitsEviction(record)) return { ok: true };
  // The job already left the step (this report again, or a cancel): the workflow only needs to hear it.
  if (record.job.phase === PHASE_OF_STEP[task.step]) {
    const applied = await applyJobEvent(cp, task.jobId, {
      type: "failed",
      reason: failureReasonOf(task.step, record.job),
    });
    if (isMultiNode(record.job) && lostRace(applied))
      return reportStepFailure(cp, assignment, sealed, failure);
    if (!applied.ok) return endTask(cp, task, applied);
  }
  await cp.workflows.sendTaskFailure(task.taskToken, failure.error, cut(failure.cause));
  return { ok: true };
};

export const reportHeartbeat = async (
  cp: Ports<"jobs" | "workflows">,
  assignment: Assignment,
  sealed: string,
): Promise<{ ok: true } | Failure> => {
  const current = await currentTask(cp, assignment, sealed);
  if (!("task" in current)) return current;
  await cp.workflows.sendTaskHeartbeat(current.task.taskToken);
  return { ok: true };
};
