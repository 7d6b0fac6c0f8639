import { isMultiNode, type Job } from "../job.ts";

const GREEN = "#599b3e";
const ORANGE = "#fd8608";
const BLUE = "#0000ff";
const GREY = "#afafaf";
const RED = "#fb0007";
const LIGHT_GREY = "#d0d0d0";

/** One row of Run:ai's status table: end state, resource allocation and UI colour. */
interface RunaiRow {
  endState: boolean;
  /** "Yes", "-", blank (served as false) or, for Error, "Yes for interactive only". */
  resourceAllocation: boolean | "interactive only";
  color: string;
}

const row = (
  endState: boolean,
  resourceAllocation: RunaiRow["resourceAllocation"],
  color: string,
) => ({
  endState,
  resourceAllocation,
  color,
});

/** Run:ai's status tables, the single and the distributed (mpi) one, keyed by status name. */
export const RUNAI_TABLE = {
  Running: row(false, true, GREEN),
  Terminating: row(false, true, GREEN),
  ContainerCreating: row(false, true, GREEN),
  Pending: row(false, false, ORANGE),
  Succeeded: row(true, false, BLUE),
  Deleted: row(true, false, GREY),
  TimedOut: row(true, false, GREY),
  Preempted: row(true, false, GREY),
  ContainerCannotRun: row(true, false, RED),
  Error: row(false, "interactive only", RED),
  Fail: row(true, false, RED),
  CrashLoopBackOff: row(false, true, RED),
  ErrImagePull: row(false, true, RED),
  ImagePullBackOff: row(false, true, RED),
  Unknown: row(true, false, LIGHT_GREY),
  "Init:<A>/<B>": row(false, true, GREEN),
  PodInitializing: row(false, true, GREEN),
  "Init:Error": row(false, false, RED),
  "Init:CrashLoopBackOff": row(false, false, RED),
} satisfies Record<string, RunaiRow>;
export type RunaiTableStatus = keyof typeof RUNAI_TABLE;

export interface RunaiStatus {
  /** The table's name, with `Init:<A>/<B>` filled in as e.g. `Init:1/4`. */
  status: string;
  endState: boolean;
  resourceAllocation: boolean;
  color: string;
}

type RunaiInput = Pick<Job, "phase" | "kind" | "reason" | "workersReady" | "workersTotal">;

const tableStatusFor = (job: RunaiInput): RunaiTableStatus => {
  const multiNode = isMultiNode(job);
  switch (job.phase) {
    case "SUBMITTED":
    case "PENDING_REVIEW":
    case "QUEUED":
    case "REQUESTING_SERVER":
      return "Pending";
    case "CONNECTING_SERVER":
      return multiNode ? "Init:<A>/<B>" : "ContainerCreating";
    case "GEARING_UP_ENV":
      return "ContainerCreating";
    case "SENDING_MODEL_AND_DATA":
      return multiNode ? "PodInitializing" : "ContainerCreating";
    case "TRAINING":
    case "RETURNING":
      return "Running";
    case "RETRY_BACKOFF":
      if (job.reason === "IMAGE_PULL") return "ImagePullBackOff";
      if (job.reason === "INIT_FAILED") return "Init:CrashLoopBackOff";
      return job.kind === "interactive" ? "CrashLoopBackOff" : "Error";
    case "PREEMPTING":
    case "CANCELING":
      return "Terminating";
    case "COMPLETED":
      return "Succeeded";
    case "FAILED":
      if (job.reason === "IMAGE_PULL") return "ErrImagePull";
      if (job.reason === "INIT_FAILED") return "Init:Error";
      if (job.reason === "CONTAINER_CANNOT_RUN") return "ContainerCannotRun";
      return "Fail";
    case "CANCELED":
      return "Deleted";
    case "TIMED_OUT":
      return "TimedOut";
    case "PREEMPTED":
      return "Preempted";
    case "LOST":
      return "Unknown";
  }
};

const fromTable = (name: RunaiTableStatus, job: Pick<Job, "kind">, status: string): RunaiStatus => {
  const { endState, resourceAllocation, color } = RUNAI_TABLE[name];
  return {
    status,
    endState,
    resourceAllocation:
      resourceAllocation === "interactive only" ? job.kind === "interactive" : resourceAllocation,
    color,
  };
};

export const runaiStatus = (job: RunaiInput): RunaiStatus => {
  const name = tableStatusFor(job);
  const status = name === "Init:<A>/<B>" ? `Init:${job.workersReady}/${job.workersTotal}` : name;
  return fromTable(name, job, status);
};

/** Run:ai's own word for a job whose end it could not observe. */
export const RUNAI_UNREADABLE: RunaiStatus = fromTable("Unknown", { kind: "training" }, "Unknown");
