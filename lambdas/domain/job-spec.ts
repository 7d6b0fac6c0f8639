import { createHash } from "node:crypto";
import { z } from "zod";
import { SHA256_HEX } from "./artifacts.ts";
import { fieldErrors } from "./field-errors.ts";
import { CONTROL_CHARACTERS_REFUSED, withoutControlCharacters } from "./free-text.ts";
import { RetryRuleSchema } from "./job-record.ts";
import { formatBytes, LIMITS } from "./limits.ts";
import { JOB_KINDS } from "./phases.ts";
import { DEFAULT_BACKOFF_LIMIT, DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry-policy.ts";

const relativePath = z
  .string()
  .min(1)
  .max(LIMITS.filePathChars)
  .refine((path) => !path.startsWith("/") && !path.split("/").includes(".."), {
    message: "must be a path inside the job folder (relative, no ..)",
  })
  // A reviewer reads `checkpointDir` on the job.
  .refine(withoutControlCharacters(), CONTROL_CHARACTERS_REFUSED);

const seconds = (max: number) => z.number().int().min(0).max(max);
const DAY_S = 86_400;
const script = z.string().min(1).max(LIMITS.scriptChars);
const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** A job as users write it (YAML or JSON); every error names its field. */
export const JobSpec = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
        "must be 1-63 lowercase letters, digits or dashes",
      ),
    kind: z.enum(JOB_KINDS).default("training"),
    instance: z.object({
      types: z
        .array(z.string().min(1).max(LIMITS.instanceTypeChars))
        .min(1, "name at least one instance type")
        .max(LIMITS.instanceTypes),
      spot: z.boolean().default(false),
      /** How long to wait for spot capacity before falling back to on-demand (if allowed). */
      waitRequestS: seconds(DAY_S).default(10_000),
      /** With spot: take on-demand capacity when spot is not granted within waitRequestS. */
      onDemandFallback: z.boolean().default(true),
      region: z.string().min(1).max(LIMITS.regionChars).optional(),
    }),
    /** Instances of a multi-node job (Run:ai's MPI jobs), each worker told its rank. */
    workers: z.number().int().min(1).max(LIMITS.workers).default(1),
    /** The cost gate: the job waits for a reviewer's approval before any GPU is acquired. */
    review: z.boolean().default(false),
    image: z.string().min(1).max(LIMITS.imageChars).optional(),
    setup: script.optional(),
    run: script,
    inputs: z
      .array(
        z.union([
          z.object({ url: z.url().max(LIMITS.urlChars), path: relativePath }),
          /** An input uploaded to the control plane (POST /v1/inputs), named by its content. */
          z.object({
            sha256: z.string().regex(SHA256_HEX, "must be a SHA-256: 64 lowercase hex digits"),
            path: relativePath,
          }),
          z.object({ file: z.string().min(1).max(LIMITS.filePathChars), path: relativePath }),
        ]),
      )
      .max(LIMITS.inputs)
      .default([]),
    outputs: z.array(relativePath).max(LIMITS.outputs).default([]),
    checkpointDir: relativePath.optional(),
    /** Inference: the model name the deployment serves; unique among its owner's active deployments. */
    modelName: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,128}$/, "must be 1-128 letters, digits, '.', '_' or '-'")
      .optional(),
    serve: z
      .object({
        port: z.number().int().min(1024).max(65535),
        healthPath: z.string().startsWith("/").max(LIMITS.urlChars).default("/"),
      })
      .optional(),
    coolingPeriodS: seconds(7 * DAY_S).optional(),
    backoffLimit: z.number().int().min(0).max(100).default(DEFAULT_BACKOFF_LIMIT),
    retryRules: z
      .array(RetryRuleSchema)
      .refine((rules) => jsonBytes(rules) <= LIMITS.retryRulesBytes, {
        message: `at most ${formatBytes(LIMITS.retryRulesBytes)} of JSON`,
      })
      .optional(),
    /** At most two weeks: a job that may run longer runs without a deadline. */
    timeoutS: seconds(14 * DAY_S).optional(),
    env: z
      .record(
        z
          .string()
          .max(LIMITS.envNameChars)
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
        z.string().max(LIMITS.envValueChars),
      )
      .refine((env) => Object.keys(env).length <= LIMITS.envVars, {
        message: `at most ${LIMITS.envVars} variables`,
      })
      .default({}),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const bytes = jsonBytes(spec);
    if (bytes > LIMITS.specBytes) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `the spec is ${bytes} bytes of JSON; at most ${formatBytes(LIMITS.specBytes)}`,
      });
    }
    if (spec.kind === "inference" && !spec.modelName) {
      ctx.addIssue({
        code: "custom",
        path: ["modelName"],
        message: "an inference deployment needs a modelName",
      });
    }
    if (spec.kind === "inference" && !spec.serve) {
      ctx.addIssue({
        code: "custom",
        path: ["serve"],
        message: "an inference deployment needs serve.port",
      });
    }
    if (spec.kind !== "inference" && (spec.modelName || spec.serve)) {
      ctx.addIssue({
        code: "custom",
        path: ["kind"],
        message: "modelName and serve are for kind: inference",
      });
    }
  });
export type JobSpec = z.output<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;

export interface SpecError {
  /** Dotted path of the field, e.g. `instance.types` or `inputs.0.path`. */
  field: string;
  message: string;
}

export type ParsedSpec = { ok: true; spec: JobSpec } | { ok: false; errors: SpecError[] };

/** Validates a job spec, reporting every bad field at once. */
export const parseJobSpec = (input: unknown): ParsedSpec => {
  const parsed = JobSpec.safeParse(input);
  if (parsed.success) return { ok: true, spec: parsed.data };
  return { ok: false, errors: fieldErrors(parsed.error, "(spec)") };
};

/** The job's retry policy: its backoffLimit and rules, with the defaults' rules last. */
export const retryPolicyOf = (spec: JobSpec): RetryPolicy => ({
  backoffLimit: spec.backoffLimit,
  rules: [...(spec.retryRules ?? []), ...DEFAULT_RETRY_POLICY.rules],
});

/** What makes two jobs' environments interchangeable: an instance that set one up can skip the other's setup. */
export const envHashOf = (spec: Pick<JobSpec, "image" | "setup" | "env">): string =>
  createHash("sha256")
    .update(
      JSON.stringify([spec.image ?? null, spec.setup ?? null, Object.entries(spec.env).sort()]),
    )
    .digest("hex")
    .slice(0, 16);

/**
 * A spec as the API takes it: `file` inputs are the CLI's to upload first, so the control
 * plane never reads a path on somebody else's machine.
 */
export const inputsToUpload = (spec: JobSpec): SpecError[] =>
  spec.inputs.flatMap((input, index) =>
    "file" in input
      ? [
          {
            field: `inputs.${index}.file`,
            message: "upload the file first (POST /v1/inputs) and send its sha256",
          },
        ]
      : [],
  );

/** What an installation lets a job ask for (the `spot` and `coolingMaxMinutes` context). */
export interface InstallationLimits {
  spotAllowed: boolean;
  maxWarmS: number;
}

/**
 * What a valid spec asks for that this installation does not allow, as field errors: refused
 * at submit, so the user learns at once rather than when the job runs (or after it ran).
 */
export const installationRefusals = (spec: JobSpec, limits: InstallationLimits): SpecError[] => [
  ...(spec.instance.spot && !limits.spotAllowed
    ? [
        {
          field: "instance.spot",
          message: "spot capacity is not allowed in this installation: ask for on-demand (false)",
        },
      ]
    : []),
  ...(spec.coolingPeriodS !== undefined && spec.coolingPeriodS > limits.maxWarmS
    ? [
        {
          field: "coolingPeriodS",
          message: `at most ${limits.maxWarmS} s in this installation (the longest an instance stays warm)`,
        },
      ]
    : []),
];
