/**
 * The events gpuctl publishes on every status change, one zod schema shared by the
 * producer and every consumer. Each carries the canonical state and all three dialects,
 * so consumers never recompute them. Documented in docs/events.md.
 */
import { z } from "zod";
import { jobDialects } from "./dialects/index.ts";
import { aibroInstanceStatus, type Instance, type InstanceEvent } from "./instance.ts";
import type { Job } from "./job.ts";
import { JOB_KINDS, PHASES, REASONS } from "./phases.ts";

const metadata = z.object({
  /** Unique per change: consumers drop duplicates by it. */
  id: z.string(),
  version: z.number().int(),
  time: z.string(),
});

const dialects = z.object({
  aibro: z.object({ status: z.string(), substatus: z.string() }),
  runai: z.object({
    status: z.string(),
    endState: z.boolean(),
    resourceAllocation: z.boolean(),
    color: z.string(),
  }),
  modelarts: z.object({ code: z.number().int(), name: z.string() }),
});

export const JobStatusChanged = z.object({
  source: z.literal("gpuctl"),
  "detail-type": z.literal("Job Status Changed"),
  detail: z.object({
    metadata,
    data: z.object({
      jobId: z.string(),
      kind: z.enum(JOB_KINDS),
      event: z.string(),
      from: z.enum(PHASES).optional(),
      phase: z.enum(PHASES),
      reason: z.enum(REASONS).optional(),
      attempt: z.number().int(),
      instanceId: z.string().optional(),
      /**
       * The user who made the change, by id only: the bus (and the topic of job ends it
       * feeds) carries no one's email. Absent when the control plane made the change.
       */
      by: z.object({ userId: z.string() }).optional(),
      dialects,
    }),
  }),
});
export type JobStatusChanged = z.infer<typeof JobStatusChanged>;

export const InstanceStatusChanged = z.object({
  source: z.literal("gpuctl"),
  "detail-type": z.literal("Instance Status Changed"),
  detail: z.object({
    metadata,
    data: z.object({
      instanceId: z.string(),
      /** What changed it: released, claimed, coolingExpired, coolingFailed, ... */
      event: z.string().optional(),
      /** Why, when it went wrong (a cooling timer that failed, and how). */
      cause: z.string().optional(),
      status: z.string(),
      substatus: z.string().optional(),
      jobId: z.string().optional(),
      instanceType: z.string(),
      spot: z.boolean(),
      aibro: z.object({ status: z.string(), substatus: z.string().optional() }),
    }),
  }),
});
export type InstanceStatusChanged = z.infer<typeof InstanceStatusChanged>;

export const StatusEvent = z.union([JobStatusChanged, InstanceStatusChanged]);
export type StatusEvent = z.infer<typeof StatusEvent>;

export const jobStatusChanged = (
  job: Job,
  change: {
    event: string;
    from?: Job["phase"];
    at: string;
    by?: { userId: string };
  },
): JobStatusChanged => ({
  source: "gpuctl",
  "detail-type": "Job Status Changed",
  detail: {
    metadata: { id: `job/${job.id}/${job.version}`, version: job.version, time: change.at },
    data: {
      jobId: job.id,
      kind: job.kind,
      event: change.event,
      ...(change.from ? { from: change.from } : {}),
      phase: job.phase,
      ...(job.reason ? { reason: job.reason } : {}),
      attempt: job.attempt,
      ...(job.instanceId ? { instanceId: job.instanceId } : {}),
      ...(change.by ? { by: { userId: change.by.userId } } : {}),
      dialects: jobDialects(job),
    },
  },
});

export const instanceStatusChanged = (
  instance: Instance,
  at: string,
  event?: InstanceEvent,
): InstanceStatusChanged => {
  const substatus =
    instance.status === "CLOSING" || instance.status === "CLOSED" ? instance.substatus : undefined;
  const jobId =
    instance.status === "LAUNCHING" || instance.status === "EXECUTING" ? instance.jobId : undefined;
  return {
    source: "gpuctl",
    "detail-type": "Instance Status Changed",
    detail: {
      metadata: {
        id: `instance/${instance.id}/${instance.version}`,
        version: instance.version,
        time: at,
      },
      data: {
        instanceId: instance.id,
        ...(event ? { event: event.type } : {}),
        ...(event && "cause" in event ? { cause: event.cause } : {}),
        status: instance.status,
        ...(substatus ? { substatus } : {}),
        ...(jobId ? { jobId } : {}),
        instanceType: instance.pool.instanceType,
        spot: instance.spot,
        aibro: aibroInstanceStatus(instance),
      },
    },
  };
};
