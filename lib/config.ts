/**
 * What a platform engineer may set for one installation, as CDK context (`cdk deploy -c
 * instanceTypes=g5.xlarge,g6.xlarge`, or `context` in cdk.json), with the defaults a first
 * `cdk deploy` gets. Values from `-c` arrive as strings, those from cdk.json as JSON: both
 * are read. Every bad value is refused at synth, naming its key and why, all at once.
 */
import { z } from "zod";
import { breakEvenPlan, DEFAULT_COST_MODEL } from "../lambdas/domain/cooling-policy.ts";

/** The AWS Deep Learning Base GPU AMI (Ubuntu 22.04, NVIDIA driver), the newest one, by its public SSM parameter. */
export const DEFAULT_AMI_PARAMETER =
  "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id";

/** Ubuntu's root device, as the default AMI has it. */
export const DEFAULT_ROOT_DEVICE_NAME = "/dev/sda1";

/** Comma-separated in `-c`, an array in cdk.json; blanks dropped. */
const list = (item: z.ZodString) =>
  z.preprocess(
    (value) =>
      typeof value === "string"
        ? value
            .split(",")
            .map((part) => part.trim())
            .filter(Boolean)
        : value,
    z.array(item).min(1, "must name at least one"),
  );

const wholeNumber = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value),
    z
      .number("must be a number")
      .int("must be a whole number")
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );

const flag = z.preprocess(
  (value) => (value === "true" ? true : value === "false" ? false : value),
  z.boolean("must be true or false"),
);

const INSTANCE_TYPE = z.string().regex(/^[a-z0-9-]+\.[a-z0-9]+$/, "must be like g5.xlarge");

/** Each key, its default (applied when the key is absent) and what it means: docs/deploy.md lists them. */
const CONTEXT = z
  .object({
    /** An existing VPC to launch instances in, with `subnetIds`; absent: the stack makes one. */
    vpcId: z
      .string()
      .regex(/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/, "must be like vpc-0123456789abcdef0")
      .optional(),
    /**
     * The subnets of `vpcId` instances launch in, one per AZ, in the order a launch tries
     * them. Instances need a public IPv4 address (the subnet's auto-assign) or a NAT.
     */
    subnetIds: list(
      z
        .string()
        .regex(/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, "must be like subnet-0123456789abcdef0"),
    ).optional(),
    /**
     * The instance types jobs may ask for. One GPU each, of the three current NVIDIA
     * families at their smallest size: A10G 24 GB, L4 24 GB, T4 16 GB (the cheapest).
     */
    instanceTypes: list(INSTANCE_TYPE).default(["g5.xlarge", "g6.xlarge", "g4dn.xlarge"]),
    /** Whether jobs may run on spot capacity (a job still asks for it itself): a submit asking for spot is refused when false. */
    spot: flag.default(true),
    /**
     * How long a freed instance stays warm before the pool has a history to go by: the
     * break-even of DEFAULT_COST_MODEL (idle cost equals one cold start), in minutes.
     */
    coolingDefaultMinutes: wholeNumber(0, 24 * 60).default(
      Math.ceil(breakEvenPlan(DEFAULT_COST_MODEL).warmS / 60),
    ),
    /**
     * The longest any instance stays warm after its job, whatever the job's coolingPeriodS
     * (refused beyond it at submit) or the pool's history asks.
     */
    coolingMaxMinutes: wholeNumber(0, 24 * 60).default(60),
    /** The SSM parameter whose value is the AMI id, resolved at each deploy. */
    amiParameter: z
      .string()
      .regex(/^\/[\w./-]+$/, "must be an SSM parameter name starting with /")
      .default(DEFAULT_AMI_PARAMETER),
    /** Root volume of each instance, GiB (gp3): the cost model's size, the Deep Learning AMIs' recommendation. */
    rootVolumeGiB: wholeNumber(1, 16_384).default(DEFAULT_COST_MODEL.ebsGb),
    /** The AMI's root device: /dev/sda1 on Ubuntu, /dev/xvda on Amazon Linux. */
    rootDeviceName: z
      .string()
      .regex(/^\/dev\/[a-z0-9]+$/, "must be a device like /dev/sda1")
      .default(DEFAULT_ROOT_DEVICE_NAME),
    /** The monthly estimated cost at which the cost alarm fires, USD. */
    monthlyBudgetUsd: wholeNumber(1, 1_000_000).default(100),
  })
  .superRefine((config, context) => {
    const pairs = [["vpcId", "subnetIds"]] as const;
    for (const [first, second] of pairs) {
      const given = [first, second].filter((key) => config[key] !== undefined);
      if (given.length === 1) {
        const missing = given[0] === first ? second : first;
        context.addIssue({
          code: "custom",
          path: [missing],
          message: `must be set with ${given[0]} (both or neither)`,
        });
      }
    }
    if (config.coolingDefaultMinutes > config.coolingMaxMinutes)
      context.addIssue({
        code: "custom",
        path: ["coolingDefaultMinutes"],
        message: `must not exceed coolingMaxMinutes (${config.coolingMaxMinutes})`,
      });
  });

export type ControlPlaneConfig = z.infer<typeof CONTEXT>;
const CONTEXT_KEYS = Object.keys(CONTEXT.shape) as (keyof ControlPlaneConfig)[];

/** Every context value refused, each with its key. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: { key: string; message: string }[];
  constructor(problems: { key: string; message: string }[]) {
    super(`context: ${problems.map(({ key, message }) => `${key} ${message}`).join("; ")}`);
    this.problems = problems;
  }
}

/**
 * A key in the settings' own style (camelCase) that is not one of them: a misspelled
 * setting, which would otherwise leave its default in force unnoticed. CDK's and its CLI's
 * own keys (`@aws-cdk/...`, `aws:cdk:...`, `acknowledged-issue-numbers`) are not in it.
 */
const SETTING_STYLE = /^[a-z][a-zA-Z0-9]*$/;

/** What the keys of an earlier stack's users' OIDC provider are told. */
const OWN_TOKENS =
  "is no longer a setting: users sign in with gpuctl's own access tokens, kept in the stack's table, not an OIDC provider's or Cognito's (docs/deploy.md, \"A first user\")";

/**
 * Settings an earlier gpuctl had, with what took their place: a deploy that still passes
 * one is refused with why, rather than left to think the setting still does something.
 */
const RETIRED: Record<string, string> = { userIssuer: OWN_TOKENS, userAudience: OWN_TOKENS };

/** Reads the installation's settings from CDK context (an App's or a Stack's `node`). */
export const readControlPlaneConfig = (node: {
  tryGetContext(key: string): unknown;
  getAllContext(): Record<string, unknown>;
}): ControlPlaneConfig => {
  const given = Object.fromEntries(
    CONTEXT_KEYS.map((key) => [key, node.tryGetContext(key)]).filter(
      ([, value]) => value !== undefined,
    ),
  );
  const unknown = Object.keys(node.getAllContext())
    .filter((key) => SETTING_STYLE.test(key) && !(CONTEXT_KEYS as string[]).includes(key))
    .map((key) => ({
      key,
      message: RETIRED[key] ?? `is not a setting (they are: ${CONTEXT_KEYS.join(", ")})`,
    }));
  const parsed = CONTEXT.safeParse(given);
  const problems = [
    ...unknown,
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({
          key: String(issue.path[0]),
          message: issue.message,
        }))),
  ];
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new ConfigError(problems);
};
