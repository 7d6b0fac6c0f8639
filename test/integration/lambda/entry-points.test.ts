/**
 * Each Lambda entry point, imported as Lambda loads it and invoked in-process with the
 * events AWS delivers: its ports are the AWS adapters build-ports.ts wires, the stores on
 * DynamoDB Local and every other client mocked (aws-sdk-client-mock), so each test sees
 * the AWS calls its entry point makes.
 */
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { SendTaskHeartbeatCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  SendMessageCommand,
  TagQueueCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readConfig } from "../../../agent/config.ts";
import { AGENT_HEADERS } from "../../../agent/protocol.ts";
import { DynamoUserStore } from "../../../lambdas/adapters/aws/dynamodb/user-store.ts";
import { clientToken } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { ScryptPasswords } from "../../../lambdas/adapters/crypto/scrypt-passwords.ts";
import { SIGN_IN_ROUTE } from "../../../lambdas/handlers/api/sign-in-route.ts";
import { assignmentCredential } from "../../../lambdas/use-cases/agent-identity.ts";
import { executionStatusChange } from "../../fixtures/aws-events.ts";
import { newRecord } from "../stores.ts";
import { freshTable } from "../table.ts";
import { type TestUser, testUsers } from "../users.ts";
import {
  AT,
  BUCKET,
  context,
  coolingInstance,
  endInvocation,
  eventBridge,
  instances,
  jobs,
  MACHINES,
  metricsPrinted,
  openTable,
  prepareInvocation,
  printed,
  published,
  QUEUE_URLS,
  SECRET,
  sfn,
  sqs,
  storedInstance,
  storedJob,
  table,
} from "./lambda-environment.ts";

const ec2 = mockClient(EC2Client);

const PASSWORD = "correct horse battery";
let ada: TestUser;
let bob: TestUser;

beforeAll(async () => {
  await openTable();
  const people = testUsers({
    users: new DynamoUserStore(table),
    passwords: new ScryptPasswords(),
    clock: { now: () => new Date().toISOString() },
  });
  ada = await people.add("ada@example.org", "user", PASSWORD);
  bob = await people.add("bob@example.org");
});

/** The gpuctl instances EC2 knows, by their `gpuctl:instance` tag, for DescribeInstances. */
const ec2Instances = (known: Record<string, { InstanceId: string; state: string }>) =>
  ec2.on(DescribeInstancesCommand).callsFake(({ Filters = [] }) => {
    const tagged = Filters.find(
      (filter: { Name?: string }) => filter.Name === "tag:gpuctl:instance",
    );
    const found = known[tagged?.Values?.[0] ?? ""];
    return {
      Reservations: found
        ? [{ Instances: [{ InstanceId: found.InstanceId, State: { Name: found.state } }] }]
        : [],
    };
  });

beforeEach(() => {
  ec2.reset();
  prepareInvocation();
});

afterEach(endInvocation);

/**
 * An API Gateway HTTP API (payload 2.0) event, with the authorizer context API Gateway adds
 * on the agents' routes; the users' routes have no authorizer, so none.
 */
/** The API Gateway route a path matches, but for the sign-in's own (given where it applies). */
const routeOf = (path: string) =>
  path.startsWith("/agent/") ? "ANY /agent/v1/{proxy+}" : "ANY /v1/{proxy+}";

const httpEvent = (
  method: string,
  path: string,
  authorizer: Record<string, unknown> | undefined,
  request: { headers?: Record<string, string>; body?: unknown; routeKey?: string } = {},
) => ({
  version: "2.0",
  routeKey: request.routeKey ?? routeOf(path),
  rawPath: path,
  rawQueryString: "",
  headers: {
    host: "api.example.com",
    "user-agent": "gpuctl",
    ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
    ...request.headers,
  },
  requestContext: {
    accountId: "123456789012",
    apiId: "a1b2c3d4e5",
    ...(authorizer ? { authorizer } : {}),
    domainName: "api.example.com",
    domainPrefix: "api",
    http: {
      method,
      path,
      protocol: "HTTP/1.1",
      sourceIp: "203.0.113.7",
      userAgent: "gpuctl",
    },
    requestId: "JKJaXmPLvHcESHA=",
    routeKey: request.routeKey ?? routeOf(path),
    stage: "$default",
    time: "01/Jan/2026:00:00:00 +0000",
    timeEpoch: 1767225600000,
  },
  ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
  isBase64Encoded: false,
});

/** A user's request: their access token, and no authorizer context. */
const as = (user: TestUser) => ({ headers: { authorization: `Bearer ${user.token}` } });

const iam = (instanceId: string) => ({
  iam: {
    accessKey: "ASIAEXAMPLE",
    accountId: "123456789012",
    callerId: `AROAEXAMPLE:${instanceId}`,
    cognitoIdentity: null,
    principalOrgId: null,
    userArn: `arn:aws:sts::123456789012:assumed-role/gpuctl-agent/${instanceId}`,
    userId: `AROAEXAMPLE:${instanceId}`,
  },
});

describe("the API Lambda", () => {
  it("serves a user's jobs to the user whose access token the request bears, alone", async () => {
    await jobs.submit({ record: newRecord({ id: "job-of-ada" }, { owner: ada.userId }) });
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");

    const own = await handler(httpEvent("GET", "/v1/jobs/job-of-ada", undefined, as(ada)), context);
    expect(own.statusCode).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ id: "job-of-ada" });
    const other = await handler(
      httpEvent("GET", "/v1/jobs/job-of-ada", undefined, as(bob)),
      context,
    );
    expect(other.statusCode).toBe(404);
    const listed = await handler(httpEvent("GET", "/v1/jobs", undefined, as(ada)), context);
    expect(JSON.parse(listed.body).items.map((job: { id: string }) => job.id)).toEqual([
      "job-of-ada",
    ]);
  });

  it("refuses a user route without a token it knows, whatever authorizer context the event carries", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const unknown = { headers: { authorization: `Bearer gpuctl_${"x".repeat(43)}` } };
    for (const event of [
      httpEvent("GET", "/v1/jobs", undefined),
      httpEvent("GET", "/v1/jobs", undefined, unknown),
      httpEvent("GET", "/v1/jobs", iam("i-0abc")),
      httpEvent("GET", "/v1/jobs", { jwt: { claims: { sub: ada.userId } } }),
    ])
      expect((await handler(event, context)).statusCode).toBe(401);
  });

  it("signs a user in with their email and password, for a token the other routes take", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const signIn = (password: string) =>
      handler(
        httpEvent("POST", "/v1/login", undefined, {
          body: { email: "ada@example.org", password },
          routeKey: SIGN_IN_ROUTE,
        }),
        context,
      );
    expect((await signIn("not the password")).statusCode).toBe(401);
    // Paths that normalize to the sign-in's came through `/v1/{proxy+}`, past its throttle.
    for (const path of ["/v1/./login", "/v1/%6cogin"]) {
      const bypass = await handler(
        httpEvent("POST", path, undefined, {
          body: { email: "ada@example.org", password: PASSWORD },
        }),
        context,
      );
      expect(bypass.statusCode, path).toBe(404);
    }
    const signedIn = await signIn(PASSWORD);
    expect(signedIn.statusCode).toBe(200);
    const { token } = JSON.parse(signedIn.body);
    const listed = await handler(
      httpEvent("GET", "/v1/jobs", undefined, { headers: { authorization: `Bearer ${token}` } }),
      context,
    );
    expect(listed.statusCode).toBe(200);
  });

  it("submits a job as the subject: its lifecycle and deadline executions, its status event, its metric", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const spec = {
      name: "train",
      kind: "training",
      instance: { types: ["g5.xlarge"] },
      run: "python train.py",
      timeoutS: 3600,
    };
    const response = await handler(
      httpEvent("POST", "/v1/jobs", undefined, { ...as(ada), body: spec }),
      context,
    );
    expect(response.statusCode).toBe(201);
    const { id } = JSON.parse(response.body);
    expect((await jobs.get(id))?.owner).toBe(ada.userId);
    for (const stateMachineArn of [MACHINES.lifecycle, MACHINES.deadline]) {
      expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
        stateMachineArn,
        input: expect.stringContaining(`"jobId":"${id}"`),
      });
    }
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ EventBusName: "gpuctl-test", Source: "gpuctl" })],
    });
    expect(published()).toEqual([expect.objectContaining({ jobId: id, phase: "SUBMITTED" })]);
    expect(metricsPrinted()).toEqual([
      expect.objectContaining({
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: "gpuctl",
              Dimensions: [["service", "Phase"]],
              Metrics: [{ Name: "JobPhaseEntered", Unit: "Count" }],
            },
          ],
        },
        service: "gpuctl",
        Phase: "SUBMITTED",
        JobPhaseEntered: 1,
      }),
    ]);
  });

  it("takes an agent's report through the IAM authorizer from its instance's role session alone", async () => {
    await storedInstance("gi-agent", "i-0a9e47", "job-agent", [{ type: "agentRegistered" }]);
    const record = await storedJob("job-agent", {
      job: { phase: "TRAINING", instanceId: "gi-agent" },
    });
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const report = (ec2Id: string) =>
      handler(
        httpEvent("POST", "/agent/v1/jobs/job-agent/timeline", iam(ec2Id), {
          headers: {
            [AGENT_HEADERS.instance]: "gi-agent",
            [AGENT_HEADERS.assignment]: assignmentCredential(SECRET, {
              instanceId: "gi-agent",
              jobId: "job-agent",
              attempt: record.job.attempt,
              requeues: record.job.requeues,
            }),
          },
          body: { phase: "Instance Connect", startedAt: AT, endedAt: AT },
        }),
        context,
      );

    expect((await report("i-0b7c31")).statusCode).toBe(403);
    expect((await report("i-0a9e47")).statusCode).toBe(204);
    expect((await jobs.get("job-agent"))?.timeline).toMatchObject({
      "Instance Connect": { startedAt: AT, endedAt: AT },
    });
  });

  it("serves no poll route: agents on AWS read their SQS queue", async () => {
    await coolingInstance("gi-poller", "i-0c1d22");
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const response = await handler(
      httpEvent("POST", "/agent/v1/instances/gi-poller/poll", iam("i-0c1d22"), {
        headers: { [AGENT_HEADERS.instance]: "gi-poller" },
        body: { envHashes: [], waitS: 0 },
      }),
      context,
    );
    expect(response.statusCode).toBe(404);
  });

  it("publishes no metric for a request that changes nothing, not even a cold start", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    await handler(httpEvent("GET", "/v1/jobs", undefined, as(ada)), context);
    expect(metricsPrinted()).toEqual([]);
  });
});

describe("the first admin's bootstrap Lambda", () => {
  it("makes the first admin of an empty table, with a token the API takes, once", async () => {
    vi.stubEnv("TABLE_NAME", (await freshTable()).tableName);
    const { handler } = await import("../../../lambdas/handlers/lambda/bootstrap-admin.ts");

    const made = await handler({ email: "Root@Example.org" }, context);
    expect(made).toMatchObject({
      ok: true,
      email: "root@example.org",
      token: expect.stringMatching(/^gpuctl_/),
    });
    if (!made.ok) throw new Error("no first admin");
    expect(printed().join("\n")).not.toContain(made.token);
    expect(await handler({ email: "other@example.org" }, context)).toMatchObject({
      ok: false,
      error: "CONFLICT",
      message: expect.stringContaining("the first admin exists already"),
    });
    expect(await handler({}, context)).toMatchObject({ ok: false });

    const api = await import("../../../lambdas/handlers/lambda/api.ts");
    const listed = await api.handler(
      httpEvent("GET", "/v1/users", undefined, {
        headers: { authorization: `Bearer ${made.token}` },
      }),
      context,
    );
    expect(listed.statusCode).toBe(200);
    expect(JSON.parse(listed.body).items).toEqual([
      expect.objectContaining({ email: "root@example.org", role: "admin" }),
    ]);
  });
});

describe("the workflow task Lambdas", () => {
  it("AcquireInstanceFunction launches through RunInstances and opens the instance's queue", async () => {
    await storedJob("job-launch", {
      spec: {
        instance: { types: ["g5.xlarge"], spot: false, waitRequestS: 600, onDemandFallback: true },
      },
    });
    ec2Instances({});
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: "i-0d4e5f6" }] });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/acquire-instance.ts");

    const placement = await handler({ jobId: "job-launch" }, context);
    expect(placement).toMatchObject({ placement: "launched" });
    const instanceId = placement.instanceId;
    expect(await instances.get(instanceId)).toMatchObject({ providerId: "i-0d4e5f6" });

    const [launch] = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
    expect(launch).toMatchObject({
      LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "3" },
      InstanceType: "g5.xlarge",
      SubnetId: "subnet-0aaa",
      ClientToken: clientToken(instanceId, "subnet-0aaa"),
      TagSpecifications: expect.arrayContaining([
        {
          ResourceType: "instance",
          Tags: expect.arrayContaining([
            { Key: "gpuctl:control-plane", Value: "gpuctl-test" },
            { Key: "gpuctl:instance", Value: instanceId },
            { Key: "gpuctl:job", Value: "job-launch" },
          ]),
        },
      ]),
    });
    const queueName = `gpuctl-test-${instanceId}`;
    expect(sqs).toHaveReceivedCommandWith(CreateQueueCommand, {
      QueueName: queueName,
      tags: { "gpuctl:control-plane": "gpuctl-test", "gpuctl:instance": instanceId },
    });
    expect(sqs).toHaveReceivedCommandWith(TagQueueCommand, {
      QueueUrl: `${QUEUE_URLS}${queueName}`,
      Tags: {
        "gpuctl:agent-instance-arn": "arn:aws:ec2:us-east-1:123456789012:instance/i-0d4e5f6",
      },
    });

    // The user data configures the agent with the queue SQS made for it.
    const userData = Buffer.from(launch?.UserData ?? "", "base64").toString("utf8");
    const envFile = userData.split("<<'GPUCTL_CONFIG'\n")[1]?.split("GPUCTL_CONFIG\n")[0] ?? "";
    const env = Object.fromEntries(
      envFile
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/=(.*)/s)),
    );
    expect(readConfig(env)).toMatchObject({
      endpoint: "https://api.example.com",
      instanceId,
      runtime: { kind: "aws", region: "us-east-1", queueUrl: `${QUEUE_URLS}${queueName}` },
    });
    expect(userData).toContain(`'s3://gpuctl-test-assets/agent/abc.mjs' ${"a".repeat(64)}`);
    expect(published()).toEqual(
      expect.arrayContaining([expect.objectContaining({ instanceId, status: "LAUNCHING" })]),
    );
  });

  it("AcquireInstanceFunction fails by the error name the state machine catches", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/acquire-instance.ts");
    await expect(handler({ jobId: "job-unknown" }, context)).rejects.toMatchObject({
      name: "gpuctl.JobEnded",
    });
  });

  it("DispatchStepFunction sends the step with SendMessage, its inputs as presigned S3 URLs; the agent's heartbeat reaches the task", async () => {
    const sha256 = "c".repeat(64);
    await storedInstance("gi-dispatch", "i-0d15a7", "job-inputs", [{ type: "agentRegistered" }]);
    await storedJob("job-inputs", {
      job: { phase: "SENDING_MODEL_AND_DATA", instanceId: "gi-dispatch" },
      spec: { inputs: [{ sha256, path: "data.bin" }] },
    });
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/dispatch-step.ts");

    await handler(
      { jobId: "job-inputs", step: "sendInputs", taskToken: "AQCEAAAA-token" },
      context,
    );
    const [sent] = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sent?.QueueUrl).toBe(`${QUEUE_URLS}gpuctl-test-gi-dispatch`);
    const command = JSON.parse(sent?.MessageBody ?? "{}");
    expect(command).toMatchObject({ type: "sendInputs", job: { jobId: "job-inputs" } });
    const [input] = command.job.inputs;
    expect(input).toMatchObject({ sha256, path: "data.bin" });
    const url = new URL(input.url);
    expect(url.host).toBe(`${BUCKET}.s3.us-east-1.amazonaws.com`);
    expect(url.pathname).toBe(`/inputs/ada/${sha256}`);
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);

    // The agent's heartbeat on that step, signed with its instance role, reaches the task.
    const api = await import("../../../lambdas/handlers/lambda/api.ts");
    const heartbeat = await api.handler(
      httpEvent("POST", "/agent/v1/tasks/heartbeat", iam("i-0d15a7"), {
        headers: {
          [AGENT_HEADERS.instance]: "gi-dispatch",
          [AGENT_HEADERS.assignment]: command.job.credential,
        },
        body: { taskToken: command.taskToken },
      }),
      context,
    );
    expect(heartbeat.statusCode).toBe(204);
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, {
      taskToken: "AQCEAAAA-token",
    });
  });

  it("RequestReviewFunction takes the Step Functions payload and records the task token", async () => {
    await jobs.submit({ record: newRecord({ id: "job-review" }) });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/request-review.ts");
    await handler({ jobId: "job-review", taskToken: "AQCEAAAAKgAAAA-token" }, context);
    const record = await jobs.get("job-review");
    expect(record?.job.phase).toBe("PENDING_REVIEW");
    expect(record?.taskToken).toBe("AQCEAAAAKgAAAA-token");
  });

  it("ReleaseInstanceFunction cools the job's instance and starts its cooling timer", async () => {
    await storedInstance("gi-release", "i-0e8f90", "job-release", [{ type: "agentRegistered" }]);
    await storedJob("job-release", { job: { phase: "COMPLETED", instanceId: "gi-release" } });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/release-instance.ts");

    await handler({ jobId: "job-release" }, context);
    const cooling = await instances.get("gi-release");
    expect(cooling).toMatchObject({ status: "COOLING" });
    const [timer] = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(timer).toMatchObject({
      stateMachineArn: MACHINES.cooling,
      name: expect.stringMatching(/^gi-release-cooling-/),
    });
    expect(JSON.parse(timer?.input ?? "{}")).toMatchObject({
      instanceId: "gi-release",
      coolingEpoch: cooling?.coolingEpoch,
    });
  });

  it("ExpireCoolingFunction stops a cooling instance through StopInstances", async () => {
    const instance = await coolingInstance("gi-expire", "i-0f1a2b");
    ec2Instances({ "gi-expire": { InstanceId: "i-0f1a2b", state: "running" } });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/expire-cooling.ts");
    const payload = { instanceId: instance.id, coolingEpoch: instance.coolingEpoch, stoppedS: 600 };
    expect(await handler(payload, context)).toEqual({ closed: true, stopped: true });
    expect(await instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: ["i-0f1a2b"] });
    expect(sqs).not.toHaveReceivedCommand(DeleteQueueCommand);
  });

  it("refuses a payload its state should never send, naming the field", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/expire-stopped.ts");
    await expect(handler({ instanceId: "gi-x" }, context)).rejects.toThrow(/coolingEpoch/);
  });
});

describe("the cooling-execution-ended Lambda", () => {
  it("terminates the instance of a cooling execution that failed, and deletes its queue", async () => {
    const instance = await coolingInstance("gi-failed-timer", "i-0a3b4c");
    ec2Instances({ "gi-failed-timer": { InstanceId: "i-0a3b4c", state: "stopped" } });
    const { handler } = await import("../../../lambdas/handlers/lambda/cooling-execution-ended.ts");
    const event = executionStatusChange({
      stateMachineArn: MACHINES.cooling,
      name: "gi-failed-timer-cooling-1-ab12",
      status: "FAILED",
      input: {
        instanceId: instance.id,
        coolingEpoch: instance.coolingEpoch,
        warmS: 600,
        stoppedS: 3600,
      },
      error: "States.Runtime",
      cause: "An error occurred while executing the state 'Stay warm'",
    });
    expect(await handler(event, context)).toEqual({ terminated: true });
    expect(await instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: ["i-0a3b4c"],
    });
    expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-gi-failed-timer`,
    });
  });
});

describe("start-up", () => {
  it("fails naming the variable a Lambda's ports need and the stack did not set", async () => {
    vi.stubEnv("TABLE_NAME", undefined);
    await expect(
      import("../../../lambdas/handlers/lambda/tasks/expire-cooling.ts"),
    ).rejects.toThrow(/TABLE_NAME is not set/);
  });

  it("names every variable missing or malformed at once, the API's own among them", async () => {
    vi.stubEnv("TABLE_NAME", "");
    vi.stubEnv("AGENT_ENDPOINT", "http://api.example.com");
    vi.stubEnv("AGENT_SECRET_ARN", undefined);
    vi.stubEnv("AGENT_ROLE_NAME", undefined);
    vi.stubEnv("SUBNET_IDS", "sg-0abc");
    vi.stubEnv("AGENT_BUNDLE_SHA256", "abc");
    const failed = import("../../../lambdas/handlers/lambda/api.ts");
    await expect(failed).rejects.toThrow(/TABLE_NAME is empty/);
    await expect(failed).rejects.toThrow(/AGENT_ENDPOINT must be an https URL/);
    await expect(failed).rejects.toThrow(/AGENT_SECRET_ARN is not set/);
    await expect(failed).rejects.toThrow(/AGENT_ROLE_NAME is not set/);
    await expect(failed).rejects.toThrow(/SUBNET_IDS must be a comma-separated list/);
    await expect(failed).rejects.toThrow(
      /AGENT_BUNDLE_SHA256 must look like 64 lowercase hex digits/,
    );
  });
});
