/**
 * Builds the AWS adapter of each port a Lambda names, from the environment the stack sets,
 * once per container: each entry point calls `buildPorts` (or `buildPortsAndEnvironment`)
 * at start-up, and a variable its ports need that is missing or malformed fails that
 * start-up, named (environment.ts).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { agentUserData } from "../../../agent/install/user-data.ts";
import { DEFAULT_COST_MODEL } from "../../domain/cooling-policy.ts";
import type {
  ControlPlane,
  Needs,
  PortName,
  Ports,
  SettingName,
  Settings,
} from "../../use-cases/control-plane.ts";
import { DynamoInstanceStore } from "./dynamodb/instance-store.ts";
import { DynamoJobStore } from "./dynamodb/job-store.ts";
import { DynamoPoolStats } from "./dynamodb/pool-stats.ts";
import { Ec2Compute, TAGS } from "./ec2/ec2-compute.ts";
import { type Environment, type EnvironmentKind, readEnvironment } from "./environment.ts";
import { EventBridgeBus } from "./eventbridge/eventbridge-bus.ts";
import { createS3Client, S3Artifacts } from "./s3/s3-artifacts.ts";
import { StepFunctionsWorkflows } from "./sfn/step-functions-workflows.ts";
import { SqsCommandQueue } from "./sqs/sqs-command-queue.ts";

/** How one port or setting is built: the kinds of environment it reads, and its adapter. */
interface Builder<T> {
  reads: readonly EnvironmentKind[];
  build: (environment: Environment<EnvironmentKind>) => T | Promise<T>;
}

const builder = <K extends EnvironmentKind, T>(
  reads: readonly K[],
  build: (environment: Environment<K>) => T | Promise<T>,
): Builder<T> => ({ reads, build });

/** The first call's result, for every call: a client per container, shared by the ports that use it. */
const once = <A, T>(create: (argument: A) => T) => {
  let made: { value: T } | undefined;
  return (argument: A): T => {
    made ??= { value: create(argument) };
    return made.value;
  };
};

const table = once((environment: Environment<"table">) => ({
  client: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }),
  tableName: environment.table.TABLE_NAME,
}));

/** The partition and domain of a region's ARNs and endpoints. */
const partitionOf = (region: string) =>
  region.startsWith("cn-")
    ? { partition: "aws-cn", domain: "amazonaws.com.cn" }
    : { partition: region.startsWith("us-gov-") ? "aws-us-gov" : "aws", domain: "amazonaws.com" };

/** Shared by the commands port and the launches, whose user data names each instance's queue. */
const commandQueues = once(
  ({
    commandQueues,
    controlPlane,
    region,
  }: Environment<"commandQueues" | "controlPlane" | "region">) =>
    new SqsCommandQueue({
      client: new SQSClient({}),
      queuePrefix: commandQueues.COMMAND_QUEUE_PREFIX,
      instanceArnPrefix: `arn:${partitionOf(region.AWS_REGION).partition}:ec2:${region.AWS_REGION}:${commandQueues.ACCOUNT_ID}:instance/`,
      tags: { [TAGS.controlPlane]: controlPlane.CONTROL_PLANE_NAME },
    }),
);

/**
 * The URL SQS gives the queue `open` creates for an instance, known before the launch: the
 * user data carries it, and the queue is created only once the instance is recorded.
 */
const commandQueueUrl = (
  environment: Environment<"commandQueues" | "controlPlane" | "region">,
  instanceId: string,
) => {
  const region = environment.region.AWS_REGION;
  const queueName = commandQueues(environment).queueName(instanceId);
  return `https://sqs.${region}.${partitionOf(region).domain}/${environment.commandQueues.ACCOUNT_ID}/${queueName}`;
};

const s3File = (bucket: string, key: string, sha256: string) => ({ bucket, key, sha256 });

/** Each port's AWS adapter. */
const PORTS: { [P in PortName]: Builder<ControlPlane[P]> } = {
  jobs: builder(["table"], (environment) => new DynamoJobStore(table(environment))),
  instances: builder(["table"], (environment) => new DynamoInstanceStore(table(environment))),
  pools: builder(["table"], (environment) => new DynamoPoolStats(table(environment))),
  clock: builder([], () => ({ now: () => new Date().toISOString() })),
  events: builder(
    ["eventBus"],
    ({ eventBus }) =>
      new EventBridgeBus({ client: new EventBridgeClient({}), busName: eventBus.EVENT_BUS_NAME }),
  ),
  workflows: builder(
    ["stateMachines"],
    ({ stateMachines }) =>
      new StepFunctionsWorkflows({
        client: new SFNClient({}),
        stateMachineArns: {
          "job-lifecycle": stateMachines.JOB_LIFECYCLE_STATE_MACHINE_ARN,
          "job-deadline": stateMachines.JOB_DEADLINE_STATE_MACHINE_ARN,
          "instance-cooling": stateMachines.INSTANCE_COOLING_STATE_MACHINE_ARN,
        },
      }),
  ),
  commands: builder(["commandQueues", "controlPlane", "region"], commandQueues),
  artifacts: builder(
    ["bucket"],
    ({ bucket }) => new S3Artifacts({ client: createS3Client(), bucket: bucket.BUCKET_NAME }),
  ),
  compute: builder(["compute", "commandQueues", "controlPlane", "region"], (environment) => {
    const { compute } = environment;
    return new Ec2Compute({
      client: new EC2Client({}),
      launchTemplate: { id: compute.LAUNCH_TEMPLATE_ID, version: compute.LAUNCH_TEMPLATE_VERSION },
      subnetIds: compute.SUBNET_IDS,
      instanceTypes: compute.INSTANCE_TYPES,
      controlPlane: environment.controlPlane.CONTROL_PLANE_NAME,
      userData: (launch) =>
        agentUserData({
          endpoint: launch.endpoint,
          instanceId: launch.instanceId,
          queueUrl: commandQueueUrl(environment, launch.instanceId),
          region: launch.region,
          agentBundle: s3File(
            compute.AGENT_BUNDLE_BUCKET,
            compute.AGENT_BUNDLE_KEY,
            compute.AGENT_BUNDLE_SHA256,
          ),
          nodeRuntime: s3File(
            compute.NODE_RUNTIME_BUCKET,
            compute.NODE_RUNTIME_KEY,
            compute.NODE_RUNTIME_SHA256,
          ),
        }),
    });
  }),
};

const SETTINGS: { [S in SettingName]: Builder<Settings[S]> } = {
  region: builder(["region"], (environment) => environment.region.AWS_REGION),
  /** The secret is read once per container: rotating it takes new containers (a deploy). */
  agent: builder(["agent"], async ({ agent }) => {
    const secret = await new SecretsManagerClient({}).send(
      new GetSecretValueCommand({ SecretId: agent.AGENT_SECRET_ARN }),
    );
    if (!secret.SecretString)
      throw new Error(`AGENT_SECRET_ARN: secret ${agent.AGENT_SECRET_ARN} has no string value`);
    return { endpoint: agent.AGENT_ENDPOINT, secret: secret.SecretString };
  }),
  costModel: builder([], () => DEFAULT_COST_MODEL),
};

/**
 * The adapters of the ports and the settings `needs` names, and no others; and the
 * variables of `kinds`, which the entry point uses itself. All are checked at once.
 */
export const buildPortsAndEnvironment = async <
  P extends PortName,
  S extends SettingName,
  K extends EnvironmentKind = never,
>(
  needs: Needs<P, S>,
  kinds: readonly K[] = [],
  variables: Record<string, string | undefined> = process.env,
): Promise<{ ports: Ports<P, S>; environment: Environment<K> }> => {
  const ports = needs.ports.map((port) => [port, PORTS[port] as Builder<unknown>] as const);
  const settings = needs.settings.map(
    (name) => [name, SETTINGS[name] as Builder<unknown>] as const,
  );
  const environment = readEnvironment(
    [...kinds, ...[...ports, ...settings].flatMap(([, { reads }]) => reads)],
    variables,
  );
  const build = (entries: typeof ports | typeof settings) =>
    Promise.all(
      entries.map(async ([name, { build }]) => [name, await build(environment)] as const),
    ).then(Object.fromEntries);
  const built = await build(ports);
  return {
    ports: (needs.settings.length ? { ...built, settings: await build(settings) } : built) as Ports<
      P,
      S
    >,
    environment,
  };
};

/** The adapters of the ports and the settings `needs` names, and no others. */
export const buildPorts = async <P extends PortName, S extends SettingName>(
  needs: Needs<P, S>,
  variables: Record<string, string | undefined> = process.env,
): Promise<Ports<P, S>> => (await buildPortsAndEnvironment(needs, [], variables)).ports;
