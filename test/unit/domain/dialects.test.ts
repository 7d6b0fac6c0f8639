import { describe, expect, it } from "vitest";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import { type Job, submitJob } from "../../../lambdas/domain/job.ts";
import { recordDialects } from "../../../lambdas/domain/job-record.ts";

const job = (fields: Partial<Job>): Job => ({
  ...submitJob({ id: "j", kind: "training" }),
  ...fields,
});
const view = (fields: Partial<Job>) => {
  const { aibro, runai, modelarts } = jobDialects(job(fields));
  return [`${aibro.status} / ${aibro.substatus}`, runai.status, modelarts.code];
};

/** DESIGN.md's canonical-to-dialect table, row by row, with the cases each row names. */
describe("the canonical-to-dialect table", () => {
  it.each([
    [{ phase: "SUBMITTED" }, "QUEUING / REQUESTING SERVER", "Pending", 1],
    [{ phase: "PENDING_REVIEW", review: "INIT" }, "QUEUING / REQUESTING SERVER", "Pending", 18],
    [{ phase: "PENDING_REVIEW", review: "RUNNING" }, "QUEUING / REQUESTING SERVER", "Pending", 19],
    [{ phase: "SUBMITTED", review: "APPROVED" }, "QUEUING / REQUESTING SERVER", "Pending", 20],
    [{ phase: "QUEUED", reason: "QUOTA_EXCEEDED" }, "QUEUING / REQUESTING SERVER", "Pending", 7],
    [{ phase: "REQUESTING_SERVER" }, "QUEUING / REQUESTING SERVER", "Pending", 4],
    [{ phase: "CONNECTING_SERVER" }, "QUEUING / CONNECTING SERVER", "ContainerCreating", 4],
    [
      { phase: "CONNECTING_SERVER", workersTotal: 4, workersReady: 1 },
      "QUEUING / CONNECTING SERVER",
      "Init:1/4",
      4,
    ],
    [{ phase: "GEARING_UP_ENV" }, "QUEUING / GEARING UP ENV", "ContainerCreating", 2],
    [{ phase: "SENDING_MODEL_AND_DATA" }, "QUEUING / SENDING MODEL & DATA", "ContainerCreating", 4],
    [
      { phase: "SENDING_MODEL_AND_DATA", workersTotal: 2 },
      "QUEUING / SENDING MODEL & DATA",
      "PodInitializing",
      4,
    ],
    [{ phase: "TRAINING" }, "TRAINING / TRAINING", "Running", 8],
    [{ phase: "TRAINING", kind: "inference", scalingTo: 3 }, "TRAINING / TRAINING", "Running", 15],
    [{ phase: "RETURNING" }, "TRAINING / RETURNING", "Running", 8],
    [{ phase: "RETRY_BACKOFF", reason: "EXIT_CODE" }, "QUEUING / REQUESTING SERVER", "Error", 7],
    [
      { phase: "RETRY_BACKOFF", kind: "interactive", reason: "EXIT_CODE" },
      "QUEUING / REQUESTING SERVER",
      "CrashLoopBackOff",
      7,
    ],
    [
      { phase: "RETRY_BACKOFF", reason: "IMAGE_PULL" },
      "QUEUING / REQUESTING SERVER",
      "ImagePullBackOff",
      7,
    ],
    [
      { phase: "RETRY_BACKOFF", reason: "INIT_FAILED", workersTotal: 2 },
      "QUEUING / REQUESTING SERVER",
      "Init:CrashLoopBackOff",
      7,
    ],
    [{ phase: "PREEMPTING" }, "TRAINING / RETURNING", "Terminating", 8],
    [{ phase: "CANCELING" }, "CANCELED / CANCELED", "Terminating", 9],
    [{ phase: "CANCELING", reason: "DELETE_FAILED" }, "CANCELED / CANCELED", "Terminating", 6],
    [{ phase: "COMPLETED" }, "COMPLETED / COMPLETED", "Succeeded", 10],
    [{ phase: "FAILED", reason: "EXIT_CODE" }, "CANCELED / CANCELED", "Fail", 11],
    [
      { phase: "FAILED", reason: "CONTAINER_CANNOT_RUN" },
      "CANCELED / CANCELED",
      "ContainerCannotRun",
      11,
    ],
    [{ phase: "FAILED", reason: "IMAGE_PULL" }, "CANCELED / CANCELED", "ErrImagePull", 3],
    [
      { phase: "FAILED", reason: "INIT_FAILED", workersTotal: 2 },
      "CANCELED / CANCELED",
      "Init:Error",
      5,
    ],
    [{ phase: "FAILED", reason: "LAUNCH_FAILED" }, "CANCELED / CANCELED", "Fail", 5],
    [{ phase: "FAILED", reason: "MODEL_TRANSFER_FAILED" }, "CANCELED / CANCELED", "Fail", 16],
    [
      { phase: "FAILED", reason: "SERVICE_FAILED", kind: "inference" },
      "CANCELED / CANCELED",
      "Fail",
      17,
    ],
    [{ phase: "FAILED", reason: "REVIEW_REJECTED" }, "CANCELED / CANCELED", "Fail", 21],
    [{ phase: "FAILED", reason: "MOUNT_FAILED" }, "CANCELED / CANCELED", "Fail", 22],
    [{ phase: "FAILED", reason: "NO_CAPACITY" }, "CANCELED / CANCELED", "Fail", 5],
    [{ phase: "CANCELED" }, "CANCELED / CANCELED", "Deleted", 13],
    [{ phase: "CANCELED", ran: true }, "CANCELED / CANCELED", "Deleted", 12],
    [{ phase: "TIMED_OUT" }, "CANCELED / CANCELED", "TimedOut", 12],
    [
      { phase: "PREEMPTED", kind: "interactive", spot: true },
      "CANCELED / CANCELED",
      "Preempted",
      12,
    ],
    [{ phase: "LOST" }, "CANCELED / CANCELED", "Unknown", 14],
  ] as Array<[Partial<Job>, string, string, number]>)(
    "%o -> %s, %s, %i",
    (fields, aibro, runai, modelarts) => {
      expect(view(fields)).toEqual([aibro, runai, modelarts]);
    },
  );
});

describe("Run:ai extras", () => {
  it("colours and flags a status from Run:ai's table", () => {
    expect(jobDialects(job({ phase: "QUEUED" })).runai).toEqual({
      status: "Pending",
      endState: false,
      resourceAllocation: false,
      color: "#fd8608",
    });
    expect(jobDialects(job({ phase: "COMPLETED" })).runai).toMatchObject({
      endState: true,
      color: "#0000ff",
    });
  });

  it("reports Error, which allocates resources for interactive jobs only, for a batch job's retry wait", () => {
    expect(jobDialects(job({ phase: "RETRY_BACKOFF", reason: "EXIT_CODE" })).runai).toMatchObject({
      status: "Error",
      resourceAllocation: false,
    });
  });
});

describe("stored records", () => {
  it("serves a readable record's dialects", () => {
    expect(recordDialects(job({ phase: "TRAINING" })).modelarts.code).toBe(8);
  });

  it("serves an unreadable record as unknown, never as a healthy status", () => {
    expect(recordDialects({ phase: "TRAINING" })).toEqual({
      aibro: { status: "CANCELED", substatus: "CANCELED" },
      runai: { status: "Unknown", endState: true, resourceAllocation: false, color: "#d0d0d0" },
      modelarts: { code: 0, name: "JOBSTAT_UNKNOWN" },
    });
  });
});
