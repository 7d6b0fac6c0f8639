/**
 * The HTTP API's bodies as zod schemas: what the routes take and answer. The SDK's types
 * (api-types.ts) and the OpenAPI document (docs/openapi.json) are both made from these.
 * An `id` in `.meta` names the schema in the document's components.
 */
import { z } from "zod";
import { SHA256_HEX } from "../../lambdas/domain/artifacts.ts";
import { AIBRO_JOB_STATUSES, AIBRO_JOB_SUBSTATUSES } from "../../lambdas/domain/dialects/aibro.ts";
import { DIALECTS } from "../../lambdas/domain/dialects/index.ts";
import { MODELARTS_CODES, type ModelArtsCode } from "../../lambdas/domain/dialects/modelarts.ts";
import {
  CONTROL_CHARACTERS_REFUSED,
  withoutControlCharacters,
} from "../../lambdas/domain/free-text.ts";
import {
  EMAIL_MAX,
  EMAIL_SHAPE,
  PASSWORD_MAX,
  ROLES,
  TOKEN_LIFETIME,
} from "../../lambdas/domain/identity.ts";
import { JobSpec } from "../../lambdas/domain/job-spec.ts";
import { LIMITS } from "../../lambdas/domain/limits.ts";
import { LOG_STREAMS } from "../../lambdas/domain/logs.ts";
import { JOB_KINDS, PHASES, REASONS } from "../../lambdas/domain/phases.ts";
import { TIMELINE_PHASES } from "../../lambdas/domain/timeline.ts";
import { NAME_MAX } from "../../lambdas/use-cases/access-tokens.ts";
import { REVIEW_DECISIONS } from "../../lambdas/use-cases/finish-job.ts";

const time = z.string().meta({ format: "date-time" });
/** An optional string field, with what it says. */
const optionalText = (description: string) => z.string().optional().meta({ description });
const Phase = z.enum(PHASES).meta({ id: "Phase" });
const Reason = z.enum(REASONS).meta({ id: "Reason" });
const JobKind = z.enum(JOB_KINDS).meta({ id: "JobKind" });
const Role = z.enum(ROLES).meta({ id: "Role" });
export const DialectName = z.enum(DIALECTS).meta({ id: "DialectName" });

const MODELARTS_CODE_LIST = Object.keys(MODELARTS_CODES).map(Number) as ModelArtsCode[];
const MODELARTS_NAMES = Object.values(MODELARTS_CODES) as [
  (typeof MODELARTS_CODES)[ModelArtsCode],
  ...(typeof MODELARTS_CODES)[ModelArtsCode][],
];

/** A job's status in each dialect: AIbro's, Run:ai's and ModelArts'. */
export const JobDialects = z
  .object({
    aibro: z.object({
      status: z.enum(AIBRO_JOB_STATUSES),
      substatus: z.enum(AIBRO_JOB_SUBSTATUSES),
    }),
    runai: z.object({
      /** The table's name, with `Init:<A>/<B>` filled in as e.g. `Init:1/4`. */
      status: z.string(),
      endState: z.boolean(),
      resourceAllocation: z.boolean(),
      color: z.string(),
    }),
    modelarts: z.object({ code: z.literal(MODELARTS_CODE_LIST), name: z.enum(MODELARTS_NAMES) }),
  })
  .meta({ id: "JobDialects" });

export const PriceView = z
  .object({
    usd: z.number().meta({ description: "Dollars per `per` units." }),
    per: z.number(),
    unit: z.string(),
    source: z.string(),
    read: z.string().meta({ description: "When the source was read (YYYY-MM-DD)." }),
  })
  .meta({ id: "PriceView" });

export const CostView = z
  .object({
    usd: z
      .number()
      .optional()
      .meta({ description: "Estimated US dollars; absent when not priced (`unpriced` says why)." }),
    unpriced: z.string().optional(),
    instanceType: optionalText("The instance type priced; absent for a job that never had one."),
    items: z.array(
      z.object({
        part: z.enum(["boot", "running", "stopped"]),
        seconds: z.number(),
        usd: z.number().optional().meta({ description: "Absent when the cost is not priced." }),
      }),
    ),
    prices: z
      .record(z.string(), PriceView)
      .meta({ description: "The list prices used, by name, each with its source." }),
    asOf: time.meta({ description: "Counted up to here: now, for what still runs." }),
  })
  .meta({
    id: "CostView",
    description:
      "An estimate from list prices and recorded times, not the bill: `usd` with what it is made of (`items`) and the prices used, or `unpriced` saying why there is no figure.",
  });

export const JobView = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: JobKind,
    owner: z.string(),
    phase: Phase,
    terminal: z.boolean().meta({ description: "The phase is terminal: nothing will change." }),
    reason: Reason.optional(),
    exitCode: z.number().int().optional(),
    attempt: z.number().int(),
    requeues: z.number().int(),
    workersReady: z.number().int(),
    workersTotal: z.number().int(),
    instanceId: z.string().optional(),
    modelName: z.string().optional(),
    endpoint: optionalText("Where an inference deployment serves, once it is healthy."),
    checkpointDir: optionalText("Where its checkpoints are among its outputs (the spec's)."),
    replayOf: optionalText("The job this one replays (`POST /v1/jobs/{id}/replay`)."),
    description: optionalText("What its submitter said about it when replaying."),
    createdAt: time,
    updatedAt: time,
    dialects: JobDialects,
    status: z
      .union([JobDialects.shape.aibro, JobDialects.shape.runai, JobDialects.shape.modelarts])
      .optional()
      .meta({ description: "With `?dialect=NAME`: that dialect's view, also under `dialects`." }),
    cost: CostView.optional().meta({
      description: "`GET /v1/jobs/{id}` only: what it cost, estimated from list prices.",
    }),
  })
  .meta({ id: "JobView" });

export const InstanceView = z
  .object({
    id: z.string(),
    status: z.enum(["LAUNCHING", "EXECUTING", "COOLING", "CLOSING", "CLOSED"]),
    substatus: z.enum(["STOPPING", "TERMINATING", "STOPPED", "TERMINATED"]).optional(),
    aibro: z
      .object({ status: z.string(), substatus: z.string().optional() })
      .meta({ description: "AIbro's status and substatus (a cooling instance's is COOLING)." }),
    instanceType: z.string(),
    envHash: z.string(),
    region: z.string(),
    spot: z.boolean(),
    jobId: z.string().optional(),
    coolingUntil: time.optional().meta({
      description: "While cooling: when its cooling plan stops it (or terminates it).",
    }),
    stoppedUntil: time.optional().meta({
      description: "While cooling, or stopped by its cooling plan: when that plan terminates it.",
    }),
    updatedAt: z.string(),
    cost: CostView.meta({ description: "What it has cost so far, estimated from list prices." }),
  })
  .meta({ id: "InstanceView" });

export const JobEventView = z
  .object({
    version: z.number().int(),
    at: time,
    type: z.string(),
    from: Phase.optional(),
    phase: Phase,
    reason: Reason.optional(),
    replayOf: optionalText("On a replay's `submitted` event: the job it replays."),
    by: z
      .object({ userId: z.string(), email: z.string() })
      .optional()
      .meta({ description: "The user who made the change; absent when the control plane did." }),
    dialects: JobDialects,
  })
  .meta({ id: "JobEventView" });

/** A listing's page; `cursor` asks for the next one. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });

/** A listing that is always whole. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

export const TimelinePeriod = z
  .object({
    phase: z.enum(TIMELINE_PHASES),
    startedAt: time,
    endedAt: time.optional(),
    seconds: z.number().meta({ description: "An open period is measured up to now." }),
  })
  .meta({ id: "TimelinePeriod" });

export const TimelineView = z
  .object({ periods: z.array(TimelinePeriod) })
  .meta({ id: "TimelineView" });

export const LogStream = z.enum(LOG_STREAMS).meta({ id: "LogStream" });

export const LogChunkView = z
  .object({
    stream: LogStream,
    offset: z.number().int(),
    nextOffset: z.number().int().meta({ description: "Where the next chunk starts." }),
    size: z.number().int().meta({ description: "The stream's length now, in bytes." }),
    text: z.string().meta({ description: "The stream's UTF-8 from `offset`: whole characters." }),
    ended: z.boolean().meta({ description: "No more bytes will come." }),
  })
  .meta({ id: "LogChunkView", description: "A chunk of a job's log stream." });

export const ERROR_CODES = [
  "VALIDATION",
  "NOT_FOUND",
  "CONFLICT",
  "REFUSED",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "LOCKED",
  "TOO_LARGE",
  "INTERNAL",
] as const;

/** Every 4xx/5xx body. `fields` names each bad input field and why. */
export const ApiError = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: "ApiError" });

export const InputUploadView = z
  .union([
    z.object({ sha256: z.string(), stored: z.literal(true) }),
    z.object({
      sha256: z.string(),
      stored: z.literal(false),
      upload: z.object({ url: z.string(), headers: z.record(z.string(), z.string()) }),
    }),
  ])
  .meta({
    id: "InputUploadView",
    description: "Stored already, or where to PUT exactly those bytes (with `headers`).",
  });

export const ReviewView = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: JobKind,
    owner: z.string(),
    ownerEmail: z.string().optional(),
    review: z.enum(["INIT", "RUNNING"]),
    instanceTypes: z.array(z.string()),
    spot: z.boolean(),
    workers: z.number().int(),
    timeoutS: z.number().int().optional(),
    coolingPeriodS: z.number().int().optional(),
    submittedAt: time,
    updatedAt: time,
  })
  .meta({ id: "ReviewView", description: "A job waiting at the cost gate." });

export const UserView = z
  .object({
    userId: z.string(),
    email: z.string(),
    role: Role,
    createdAt: time,
    createdBy: z.string().meta({ description: "The admin who added the user (`setup` first)." }),
    updatedAt: time,
    updatedBy: z.string(),
  })
  .meta({ id: "UserView" });

export const CallerView = z
  .object({ userId: z.string(), email: z.string(), role: Role })
  .meta({ id: "CallerView" });

export const RemovedUserView = UserView.extend({ canceledJobs: z.number().int() }).meta({
  id: "RemovedUserView",
});

const tokenFields = {
  tokenId: z.string(),
  name: z.string(),
  createdAt: time,
  expiresAt: time,
  revokedAt: time.optional(),
};
export const TokenView = z.object(tokenFields).meta({ id: "TokenView" });

export const IssuedTokenView = z
  .object({ ...tokenFields, token: z.string() })
  .meta({ id: "IssuedTokenView", description: "A token just made: the only answer with it." });

export const SignedInView = z
  .object({ ...tokenFields, token: z.string(), user: UserView })
  .meta({ id: "SignedInView" });

export const AddedUserView = z
  .object({ user: UserView, token: IssuedTokenView })
  .meta({ id: "AddedUserView" });

export const OutputPage = pageOf(z.string()).meta({
  id: "OutputPage",
  description: "Paths of a job's result files.",
});

// Requests. The public routes refuse a field they do not know (strictObject).

export const JobSpecBody = JobSpec.meta({ id: "JobSpec" });

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: z.string().max(LIMITS.cursorChars).optional(),
});

export const CursorQuery = PageQuery.pick({ cursor: true });

export const JobQuery = z.strictObject({ dialect: DialectName.optional() });

export const LogQuery = z.strictObject({
  stream: LogStream.default("stdout"),
  offset: z
    .string()
    .regex(/^[0-9]{1,15}$/, "must be a byte offset: 1 to 15 decimal digits")
    .transform(Number)
    .default(0)
    // What the query's digits are, for the document: its generator would say "string".
    .meta({
      type: "integer",
      minimum: 0,
      default: 0,
      description: "The byte to read from; past the end, the answer is empty at `size`.",
    }),
});

/** AIbro's `replay_job` arguments that the control plane keeps. */
export const ReplayRequest = z
  .strictObject({
    description: z
      .string()
      .max(LIMITS.descriptionChars)
      // Reviewers read it in their terminal: tabs and line breaks only.
      .refine(withoutControlCharacters("\t\n"), CONTROL_CHARACTERS_REFUSED)
      .optional(),
    waitRequestS: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(10_000)
      .meta({ description: "Replaces the spec's `instance.waitRequestS`." }),
  })
  .meta({ id: "ReplayRequest" });

export const ReviewDecision = z
  .strictObject({ decision: z.enum(REVIEW_DECISIONS) })
  .meta({ id: "ReviewDecision" });

export const InputAnnouncement = z
  .strictObject({
    sha256: z.string().regex(SHA256_HEX, "must be the content's SHA-256: 64 lowercase hex digits"),
    size: z.number().int().min(0),
  })
  .meta({ id: "InputAnnouncement" });

/** An email address as the identity store takes it (normalizeEmail checks it further). */
export const Email = z
  .string()
  .trim()
  .max(EMAIL_MAX)
  .regex(EMAIL_SHAPE, "must be an address such as ada@example.org");
const password = z.string().max(PASSWORD_MAX);
const days = { error: `must be a whole number of days from 1 to ${TOKEN_LIFETIME.maxDays}` };
const expiresInDays = z.number(days).int(days).min(1, days).max(TOKEN_LIFETIME.maxDays, days);

export const LoginRequest = z
  .strictObject({
    email: Email,
    password,
    expiresInDays: expiresInDays.optional(),
  })
  .meta({ id: "LoginRequest" });

export const TokenRequest = z
  .strictObject({
    name: z.string().max(NAME_MAX).optional(),
    expiresInDays: expiresInDays.optional(),
  })
  .meta({ id: "TokenRequest" });

export const AddUserRequest = z
  .strictObject({ email: Email, role: Role.optional(), password: password.optional() })
  .meta({ id: "AddUserRequest" });

export const RoleRequest = z.strictObject({ role: Role }).meta({ id: "RoleRequest" });
