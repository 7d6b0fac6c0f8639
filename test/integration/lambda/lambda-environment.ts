/**
 * What a Lambda entry point finds when a test imports it as Lambda loads it: the variables
 * the stack sets, its stores on DynamoDB Local, and its other AWS clients mocked at the SDK
 * boundary (aws-sdk-client-mock) with the answers AWS gives. EC2 is left to each test file:
 * a plain mock, or the stateful fake EC2 behind one.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { expect, inject, vi } from "vitest";
import { DynamoInstanceStore } from "../../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { LOCAL_CREDENTIALS } from "../../../lambdas/adapters/local/dynamodb-local.ts";
import {
  type Instance,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { JobRecord } from "../../../lambdas/ports.ts";
import { newRecord } from "../stores.ts";
import { freshTable } from "../table.ts";

export const SECRET = "agent-secret-for-tests";
export const SECRET_ARN =
  "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpuctl-agent-AbCdEf";
export const AT = "2026-01-01T00:00:00.000Z";
export const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:abc",
  region: "us-east-1",
  owner: "ada",
};
const machine = (name: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;
export const MACHINES = {
  lifecycle: machine("gpuctl-job-lifecycle"),
  deadline: machine("gpuctl-job-deadline"),
  cooling: machine("gpuctl-instance-cooling"),
};
/** Where SQS answers the queues of the account and region below. */
export const QUEUE_URLS = "https://sqs.us-east-1.amazonaws.com/123456789012/";
export const BUCKET = "gpuctl-test-artifacts";

export const STACK_VARIABLES = {
  // The test table's key id and region: DynamoDB Local keeps one database per pair.
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: "",
  AGENT_ENDPOINT: "https://api.example.com",
  AGENT_SECRET_ARN: SECRET_ARN,
  AGENT_ROLE_NAME: "gpuctl-agent",
  BUCKET_NAME: BUCKET,
  EVENT_BUS_NAME: "gpuctl-test",
  JOB_LIFECYCLE_STATE_MACHINE_ARN: MACHINES.lifecycle,
  JOB_DEADLINE_STATE_MACHINE_ARN: MACHINES.deadline,
  INSTANCE_COOLING_STATE_MACHINE_ARN: MACHINES.cooling,
  COMMAND_QUEUE_PREFIX: "gpuctl-test-",
  ACCOUNT_ID: "123456789012",
  CONTROL_PLANE_NAME: "gpuctl-test",
  LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
  LAUNCH_TEMPLATE_VERSION: "3",
  SUBNET_IDS: "subnet-0aaa,subnet-0bbb",
  INSTANCE_TYPES: "g5.xlarge,g6.xlarge",
  SPOT_ALLOWED: "true",
  COOLING_DEFAULT_S: "180",
  COOLING_MAX_S: "3600",
  AGENT_BUNDLE_BUCKET: "gpuctl-test-assets",
  AGENT_BUNDLE_KEY: "agent/abc.mjs",
  AGENT_BUNDLE_SHA256: "a".repeat(64),
  NODE_RUNTIME_BUCKET: "gpuctl-test-assets",
  NODE_RUNTIME_KEY: "runtime/node-v22.23.3-linux-x64.tar.xz",
  NODE_RUNTIME_SHA256: "b".repeat(64),
  AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
  POWERTOOLS_DEV: "true",
  POWERTOOLS_METRICS_DISABLED: "false",
};

export const secrets = mockClient(SecretsManagerClient);
export const sfn = mockClient(SFNClient);
export const eventBridge = mockClient(EventBridgeClient);
export const sqs = mockClient(SQSClient);

export let table: Awaited<ReturnType<typeof freshTable>>;
export let jobs: DynamoJobStore;
export let instances: DynamoInstanceStore;

/** A table of the file's own on DynamoDB Local, and the stores the tests seed it through. */
export const openTable = async () => {
  table = await freshTable();
  jobs = new DynamoJobStore(table);
  instances = new DynamoInstanceStore(table);
};

/** What Powertools printed (console.log in its dev mode): the logs and the EMF metrics. */
export let printed: () => string[];

/**
 * Before each test: modules reloaded (each import is a cold start), the clients' answers
 * reset to AWS's, the console captured, and the stack's variables set, with fake
 * credentials: nothing here reaches AWS.
 */
export const prepareInvocation = () => {
  vi.resetModules();
  for (const mock of [secrets, sfn, eventBridge, sqs]) mock.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
  eventBridge.on(PutEventsCommand).callsFake(({ Entries = [] }) => ({
    FailedEntryCount: 0,
    Entries: Entries.map((_: unknown, index: number) => ({ EventId: `event-${index}` })),
  }));
  sfn.on(StartExecutionCommand).callsFake(({ stateMachineArn, name }) => ({
    executionArn: `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`,
    startDate: new Date(AT),
  }));
  for (const command of [CreateQueueCommand, GetQueueUrlCommand])
    sqs.on(command).callsFake(({ QueueName }) => ({ QueueUrl: `${QUEUE_URLS}${QueueName}` }));
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  // The reaper warns of what it finds: kept out of the test output.
  vi.spyOn(console, "warn").mockImplementation(() => {});
  printed = () => log.mock.calls.map(([line]) => String(line));
  for (const [name, value] of Object.entries(STACK_VARIABLES)) vi.stubEnv(name, value);
  vi.stubEnv("AWS_ENDPOINT_URL_DYNAMODB", inject("dynamodbEndpoint"));
  vi.stubEnv("TABLE_NAME", table.tableName);
};

export const endInvocation = () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
};

/** The EMF entries printed: the metrics CloudWatch would extract. */
export const metricsPrinted = () =>
  printed()
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    })
    .filter((entry) => entry._aws?.CloudWatchMetrics);

export const context = {
  functionName: "gpuctl-test",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:gpuctl-test",
  memoryLimitInMB: "1024",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  logGroupName: "/aws/lambda/gpuctl-test",
  logStreamName: "2026/01/01/[$LATEST]abc",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 30_000,
};

/** The status events of every PutEvents call, as their `detail.data`. */
export const published = () =>
  eventBridge
    .commandCalls(PutEventsCommand)
    .flatMap((call) => call.args[0].input.Entries ?? [])
    .map((entry) => JSON.parse(entry.Detail ?? "{}").data);

/** An instance stored after `events`, from its launch for `jobId` as EC2 instance `providerId`. */
export const storedInstance = async (
  id: string,
  providerId: string,
  jobId: string,
  events: Parameters<typeof transitionInstance>[1][],
  launch: { spot?: boolean } = {},
): Promise<Instance> => {
  let instance = launchInstance({ id, providerId, pool, spot: launch.spot ?? false, jobId });
  for (const event of events) {
    const next = transitionInstance(instance, event);
    if (!next.ok) throw new Error(next.refusal.message);
    instance = next.instance;
  }
  expect(await instances.create(instance, AT)).toEqual({ ok: true });
  return instance;
};

/** An instance that ran one job and is now cooling, stored; its plan ends at `stoppedUntil`. */
export const coolingInstance = (id: string, providerId: string, stoppedUntil = AT) =>
  storedInstance(id, providerId, "first", [
    { type: "agentRegistered" },
    { type: "released", coolingUntil: AT, stoppedUntil },
  ]);

/** A job stored as submitted, then with the given fields of its job and spec changed. */
export const storedJob = async (
  id: string,
  changes: { job?: Partial<Job>; spec?: Partial<JobRecord["spec"]> },
): Promise<JobRecord> => {
  const record = newRecord({ id });
  const stored = {
    ...record,
    job: { ...record.job, ...changes.job },
    spec: { ...record.spec, ...changes.spec },
  };
  await jobs.submit({ record: stored });
  return stored;
};
