import { z } from "zod";
import { type JobDialects, jobDialects, UNREADABLE_DIALECTS } from "./dialects/index.ts";
import type { Job } from "./job.ts";
import { ATTEMPT_FAILURE_REASONS, JOB_KINDS, PHASES, REASONS, REVIEW_STATES } from "./phases.ts";

const count = z.number().int().nonnegative();

export const RetryRuleSchema = z.object({
  action: z.enum(["retry", "fail", "ignore"]),
  onExitCodes: z
    .object({ operator: z.enum(["In", "NotIn"]), values: z.array(z.number().int()).min(1) })
    .optional(),
  onReasons: z.array(z.enum(ATTEMPT_FAILURE_REASONS)).min(1).optional(),
});

export const RetryPolicySchema = z.object({ backoffLimit: count, rules: z.array(RetryRuleSchema) });

/** A stored job record as this version understands it. */
export const JobSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(JOB_KINDS),
  phase: z.enum(PHASES),
  reason: z.enum(REASONS).optional(),
  exitCode: z.number().int().optional(),
  attempt: count.min(1),
  requeues: count,
  agentLosses: count.optional(),
  agentRestarted: z.boolean().optional(),
  workersTotal: count.min(1),
  workersReady: count,
  spot: z.boolean(),
  retryPolicy: RetryPolicySchema,
  review: z.enum(REVIEW_STATES).optional(),
  ran: z.boolean(),
  scalingTo: count.min(1).optional(),
  instanceId: z.string().min(1).optional(),
  workerInstanceIds: z.array(z.string().min(1)).optional(),
  ranksDone: z.array(count).optional(),
  formerInstanceIds: z.array(z.string().min(1)).optional(),
  version: count.min(1),
});

/** The job in a stored record, or undefined when this version cannot read it. */
export const readJobRecord = (record: unknown): Job | undefined => {
  const parsed = JobSchema.safeParse(record);
  return parsed.success ? (parsed.data as Job) : undefined;
};

/** The dialects of a stored record; an unreadable one reports the dialects' unknown status. */
export const recordDialects = (record: unknown): JobDialects => {
  const job = readJobRecord(record);
  return job ? jobDialects(job) : UNREADABLE_DIALECTS;
};
