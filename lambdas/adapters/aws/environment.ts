import { z } from "zod";
import { MAX_WARM_S } from "../../domain/cooling-policy.ts";

/** A variable the stack sets: present and not blank. */
const variable = (meaning: string) =>
  z
    .string({
      error: (issue) => (issue.input === undefined ? `is not set (${meaning})` : undefined),
    })
    .trim()
    .min(1, { error: `is empty (${meaning})`, abort: true });

const matching = (meaning: string, pattern: RegExp, example: string) =>
  variable(meaning).regex(pattern, `must look like ${example} (${meaning})`);

/** Whole seconds, at most `max`. */
const wholeSeconds = (meaning: string, max: number) =>
  matching(meaning, /^\d+$/, "600")
    .transform(Number)
    .refine((seconds) => seconds <= max, {
      error: `must be at most ${max} (${meaning})`,
    });

const flag = (meaning: string) =>
  matching(meaning, /^(true|false)$/, "true or false").transform((value) => value === "true");

/** A comma-separated list, each item matching `pattern`. */
const list = (meaning: string, pattern: RegExp, example: string) =>
  variable(meaning)
    .transform((value) => value.split(",").map((item) => item.trim()))
    .refine((items) => items.every((item) => pattern.test(item)), {
      error: `must be a comma-separated list like ${example} (${meaning})`,
    });

const arn = (service: string, resource: string, meaning: string) =>
  matching(
    meaning,
    new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:${resource}:\\S+$`),
    `arn:aws:${service}:us-east-1:123456789012:${resource}:name`,
  );

const coolingMachineArn = arn("states", "stateMachine", "the instance-cooling machine");

/** An object the user data fetches: `<NAME>_BUCKET`, `<NAME>_KEY`, `<NAME>_SHA256`. */
const s3File = <N extends string>(name: N, meaning: string) =>
  ({
    [`${name}_BUCKET`]: matching(
      `the bucket of ${meaning}`,
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "cdk-hnb659fds-assets-123456789012-us-east-1",
    ),
    [`${name}_KEY`]: variable(`the key of ${meaning}`),
    [`${name}_SHA256`]: matching(
      `the SHA-256 of ${meaning}`,
      /^[0-9a-f]{64}$/,
      "64 lowercase hex digits",
    ),
  }) as Record<`${N}_${"BUCKET" | "KEY" | "SHA256"}`, ReturnType<typeof variable>>;

/**
 * The environment the stack gives each Lambda, one schema per kind of setting. A Lambda
 * reads only the kinds its ports need (build-ports.ts), so its configuration names only
 * the resources it may touch.
 */
export const ENVIRONMENT = {
  table: z.object({ TABLE_NAME: variable("the DynamoDB table of jobs and instances") }),
  bucket: z.object({ BUCKET_NAME: variable("the S3 bucket of inputs and results") }),
  eventBus: z.object({ EVENT_BUS_NAME: variable("the EventBridge bus of status events") }),
  stateMachines: z.object({
    JOB_LIFECYCLE_STATE_MACHINE_ARN: arn("states", "stateMachine", "the job-lifecycle machine"),
    JOB_DEADLINE_STATE_MACHINE_ARN: arn("states", "stateMachine", "the job-deadline machine"),
    INSTANCE_COOLING_STATE_MACHINE_ARN: coolingMachineArn,
  }),
  /** The instance-cooling machine alone: what stopping a cooling timer names. */
  coolingMachine: z.object({ INSTANCE_COOLING_STATE_MACHINE_ARN: coolingMachineArn }),
  commandQueues: z.object({
    COMMAND_QUEUE_PREFIX: matching(
      "the name every instance's command queue starts with",
      /^[A-Za-z0-9_-]{1,40}$/,
      "gpuctl-commands-",
    ),
    ACCOUNT_ID: matching(
      "the account of the queues and instances: queue URLs and instance ARNs",
      /^\d{12}$/,
      "123456789012",
    ),
  }),
  controlPlane: z.object({
    CONTROL_PLANE_NAME: variable(
      "this installation's name: the gpuctl:control-plane tag of its instances and queues",
    ),
  }),
  compute: z.object({
    LAUNCH_TEMPLATE_ID: matching("the GPU instances' launch template", /^lt-[0-9a-f]+$/, "lt-0abc"),
    LAUNCH_TEMPLATE_VERSION: matching(
      "the launch template's version instances launch from",
      /^(\d+|\$Latest|\$Default)$/,
      "3",
    ),
    SUBNET_IDS: list(
      "the subnets instances launch in, in the order tried",
      /^subnet-[0-9a-f]+$/,
      "subnet-0abc,subnet-0def",
    ),
    INSTANCE_TYPES: list(
      "the instance types offered, in the order tried",
      /^[a-z0-9-]+\.[a-z0-9]+$/,
      "g5.xlarge,g6.xlarge",
    ),
    ...s3File("AGENT_BUNDLE", "the agent's bundle (dist/agent/agent.mjs)"),
    ...s3File("NODE_RUNTIME", "the Node.js 22 linux-x64 tarball instances run the agent with"),
  }),
  region: z.object({ AWS_REGION: variable("the region, set by Lambda itself") }),
  spot: z.object({ SPOT_ALLOWED: flag("whether jobs may ask for spot capacity") }),
  cooling: z.object({
    COOLING_DEFAULT_S: wholeSeconds(
      "how long a freed instance of a pool with no history stays warm, s",
      MAX_WARM_S,
    ),
    COOLING_MAX_S: wholeSeconds("the longest any instance stays warm after its job, s", MAX_WARM_S),
  }),
  agentRole: z.object({
    AGENT_ROLE_NAME: matching(
      "the instance role agents sign their requests with",
      /^[\w+=,.@-]{1,64}$/,
      "gpuctl-agent",
    ),
  }),
  agent: z.object({
    AGENT_ENDPOINT: variable("where agents reach the control plane's API").pipe(
      z.url({ protocol: /^https$/, error: "must be an https URL (where agents reach the API)" }),
    ),
    AGENT_SECRET_ARN: arn(
      "secretsmanager",
      "secret",
      "the secret agents' credentials are signed with",
    ),
  }),
};

export type EnvironmentKind = keyof typeof ENVIRONMENT;

export type Environment<K extends EnvironmentKind> = {
  [Kind in K]: z.infer<(typeof ENVIRONMENT)[Kind]>;
};

/** Every variable missing or malformed at once, so one failed start-up names them all. */
export class EnvironmentError extends Error {
  override readonly name = "EnvironmentError";
  readonly problems: { variable: string; message: string }[];
  constructor(problems: { variable: string; message: string }[]) {
    super(
      `environment: ${problems.map(({ variable, message }) => `${variable} ${message}`).join("; ")}`,
    );
    this.problems = problems;
  }
}

/** Reads and checks the variables of the given kinds, or throws an EnvironmentError naming every problem. */
export const readEnvironment = <K extends EnvironmentKind>(
  kinds: readonly K[],
  variables: Record<string, string | undefined> = process.env,
): Environment<K> => {
  const read: Partial<Record<EnvironmentKind, unknown>> = {};
  const problems: { variable: string; message: string }[] = [];
  for (const kind of new Set(kinds)) {
    const parsed = ENVIRONMENT[kind].safeParse(variables);
    if (parsed.success) read[kind] = parsed.data;
    else
      problems.push(
        ...parsed.error.issues.map((issue) => ({
          variable: String(issue.path[0]),
          message: issue.message,
        })),
      );
  }
  if (problems.length) throw new EnvironmentError(problems);
  return read as Environment<K>;
};
