/**
 * Each Lambda entry point, imported as Lambda loads it and invoked in-process with the
 * events AWS delivers, against DynamoDB Local. Ports whose AWS adapters are not wired into
 * build-ports.ts yet (events, workflows, compute, commands, artifacts) get in-memory stand-ins.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { DynamoInstanceStore } from "../../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../../lambdas/adapters/aws/dynamodb/job-store.ts";
import {
  type Instance,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import type { StatusEvent } from "../../../lambdas/domain/status-events.ts";
import { agentAccess } from "../../../lambdas/use-cases/agent-identity.ts";
import type { ControlPlane, PortName } from "../../../lambdas/use-cases/control-plane.ts";
import { newRecord } from "../stores.ts";
import { freshTable } from "../table.ts";

const standIns = vi.hoisted(() => {
  const published: StatusEvent[] = [];
  const computeCalls: string[] = [];
  const ports: Partial<ControlPlane> = {
    events: { publish: async (batch) => void published.push(...batch) },
    compute: {
      instanceTypes: async () => ["g5.xlarge"],
      launch: async (request) => {
        computeCalls.push(`launch ${request.instanceId}`);
        return { providerId: `i-${request.instanceId}` };
      },
      start: async (id) => void computeCalls.push(`start ${id}`),
      stop: async (id) => void computeCalls.push(`stop ${id}`),
      terminate: async (id) => void computeCalls.push(`terminate ${id}`),
      serviceAddress: async () => ({ host: "10.0.0.1", port: 8080 }),
      list: async () => [],
    },
    workflows: {
      start: async (_machine, name) => ({ executionId: name }),
      sendTaskSuccess: async () => {},
      sendTaskFailure: async () => {},
      sendTaskHeartbeat: async () => {},
    },
    commands: { open: async () => {}, push: async () => {}, close: async () => {} },
    artifacts: {
      inputUpload: async () => ({ stored: true }),
      inputStored: async () => true,
      inputDownload: async (sha256) => `https://example.com/inputs/${sha256}`,
      resultUpload: async (jobId, file) => ({
        url: `https://example.com/jobs/${jobId}/${file.path}`,
        headers: {},
      }),
      resultExists: async () => false,
      listOutputs: async () => ({ items: [] }),
      outputDownload: async (jobId, path) => `https://example.com/jobs/${jobId}/${path}`,
    },
  };
  return { published, computeCalls, ports };
});

vi.mock(import("../../../lambdas/adapters/aws/build-ports.ts"), async (importOriginal) => {
  const original = await importOriginal();
  return {
    buildPorts: (async (needs, variables) => {
      const standIn = (port: PortName) => port in standIns.ports;
      const built = await original.buildPorts(
        { ports: needs.ports.filter((port) => !standIn(port)), settings: needs.settings },
        variables,
      );
      const substituted = needs.ports.filter(standIn).map((port) => [port, standIns.ports[port]]);
      return { ...built, ...Object.fromEntries(substituted) };
    }) as typeof original.buildPorts,
  };
});

const SECRET = "agent-secret-for-tests";
const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpuctl-agent-AbCdEf";
const AT = "2026-01-01T00:00:00.000Z";
const pool = { instanceType: "g5.xlarge", envHash: "sha256:abc", region: "us-east-1" };

let table: Awaited<ReturnType<typeof freshTable>>;
let jobs: DynamoJobStore;
let instances: DynamoInstanceStore;
const secrets = mockClient(SecretsManagerClient);

beforeAll(async () => {
  table = await freshTable();
  jobs = new DynamoJobStore(table);
  instances = new DynamoInstanceStore(table);
});

beforeEach(() => {
  vi.resetModules();
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
  standIns.published.length = 0;
  standIns.computeCalls.length = 0;
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  // Powertools warns of invocations that record no metric but ColdStart.
  vi.spyOn(console, "warn").mockImplementation(() => {});
  printed = () => log.mock.calls.map(([line]) => String(line));
  // What the stack and Lambda set; fake credentials: nothing here reaches AWS.
  for (const [name, value] of Object.entries({
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDLOCAL",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SESSION_TOKEN: "",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"),
    TABLE_NAME: table.tableName,
    AGENT_ENDPOINT: "https://api.example.com",
    AGENT_SECRET_ARN: SECRET_ARN,
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    POWERTOOLS_DEV: "true",
    POWERTOOLS_METRICS_DISABLED: "false",
  }))
    vi.stubEnv(name, value);
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

const context = {
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

/** What Powertools printed (console.log in its dev mode): the logs and the EMF metrics. */
let printed: () => string[];

/** An API Gateway HTTP API (payload 2.0) event, with the authorizer context API Gateway adds. */
const httpEvent = (
  method: string,
  path: string,
  authorizer: Record<string, unknown>,
  request: { headers?: Record<string, string>; body?: unknown } = {},
) => ({
  version: "2.0",
  routeKey: "$default",
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
    authorizer,
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
    routeKey: "$default",
    stage: "$default",
    time: "01/Jan/2026:00:00:00 +0000",
    timeEpoch: 1767225600000,
  },
  ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
  isBase64Encoded: false,
});

const jwt = (sub: string) => ({
  jwt: {
    claims: {
      sub,
      iss: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
      aud: "gpuctl-cli",
      token_use: "access",
    },
    scopes: null,
  },
});

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

/** An instance that ran one job and is now cooling, stored. */
const coolingInstance = async (id: string): Promise<Instance> => {
  let instance = launchInstance({ id, pool, spot: false, jobId: "first" });
  const released = { type: "released", coolingUntil: AT, stoppedUntil: AT } as const;
  for (const event of [{ type: "agentRegistered" }, released] as const) {
    const next = transitionInstance(instance, event);
    if (!next.ok) throw new Error(next.refusal.message);
    instance = next.instance;
  }
  expect(await instances.create(instance, AT)).toEqual({ ok: true });
  return instance;
};

describe("the API Lambda", () => {
  it("serves a user's jobs to the JWT authorizer's subject alone", async () => {
    await jobs.submit({ record: newRecord({ id: "job-of-ada" }, { owner: "sub-ada" }) });
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");

    const own = await handler(httpEvent("GET", "/v1/jobs/job-of-ada", jwt("sub-ada")), context);
    expect(own.statusCode).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ id: "job-of-ada" });
    const other = await handler(httpEvent("GET", "/v1/jobs/job-of-ada", jwt("sub-bob")), context);
    expect(other.statusCode).toBe(404);
    const listed = await handler(httpEvent("GET", "/v1/jobs", jwt("sub-ada")), context);
    expect(JSON.parse(listed.body).items.map((job: { id: string }) => job.id)).toEqual([
      "job-of-ada",
    ]);
  });

  it("refuses a user route the JWT authorizer did not pass", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const response = await handler(httpEvent("GET", "/v1/jobs", iam("i-0abc")), context);
    expect(response.statusCode).toBe(401);
  });

  it("submits a job as the subject, through the API Gateway event's body", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const spec = {
      name: "train",
      kind: "training",
      instance: { types: ["g5.xlarge"] },
      run: "python train.py",
    };
    const response = await handler(
      httpEvent("POST", "/v1/jobs", jwt("sub-ada"), { body: spec }),
      context,
    );
    expect(response.statusCode).toBe(201);
    const { id } = JSON.parse(response.body);
    expect((await jobs.get(id))?.owner).toBe("sub-ada");
    expect(standIns.published.map((event) => event.detail.data)).toEqual([
      expect.objectContaining({ jobId: id, phase: "SUBMITTED" }),
    ]);
  });

  it("routes an agent's call that passed the IAM authorizer", async () => {
    await coolingInstance("gi-agent");
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    const { token } = agentAccess(
      { settings: { agent: { endpoint: "", secret: SECRET } } },
      "gi-agent",
    );
    const response = await handler(
      httpEvent("POST", "/agent/v1/instances/gi-agent/poll", iam("i-0abc"), {
        headers: { authorization: `Bearer ${token}` },
        body: { envHashes: [], waitS: 0 },
      }),
      context,
    );
    expect(response.statusCode).toBe(204);
  });

  it("publishes a ColdStart metric in the gpuctl namespace, by function", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/api.ts");
    await handler(httpEvent("GET", "/v1/jobs", jwt("sub-ada")), context);
    const emf = printed()
      .map((line) => JSON.parse(line))
      .find((entry) => entry._aws?.CloudWatchMetrics);
    expect(emf).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: "gpuctl", Metrics: [{ Name: "ColdStart" }] }] },
      function_name: "gpuctl-test",
      ColdStart: 1,
    });
  });
});

describe("the workflow task Lambdas", () => {
  it("RequestReviewFunction takes the Step Functions payload and records the task token", async () => {
    await jobs.submit({ record: newRecord({ id: "job-review" }) });
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/request-review.ts");
    await handler({ jobId: "job-review", taskToken: "AQCEAAAAKgAAAA-token" }, context);
    const record = await jobs.get("job-review");
    expect(record?.job.phase).toBe("PENDING_REVIEW");
    expect(record?.taskToken).toBe("AQCEAAAAKgAAAA-token");
  });

  it("ExpireCoolingFunction stops a cooling instance", async () => {
    const instance = await coolingInstance("gi-expire");
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/expire-cooling.ts");
    const payload = { instanceId: instance.id, coolingEpoch: instance.coolingEpoch, stoppedS: 600 };
    expect(await handler(payload, context)).toEqual({ closed: true, stopped: true });
    expect(await instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });
    expect(standIns.computeCalls).toEqual(["stop gi-expire"]);
  });

  it("AcquireInstanceFunction fails by the error name the state machine catches", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/acquire-instance.ts");
    await expect(handler({ jobId: "job-unknown" }, context)).rejects.toMatchObject({
      name: "gpuctl.JobEnded",
    });
  });

  it("refuses a payload its state should never send, naming the field", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/tasks/expire-stopped.ts");
    await expect(handler({ instanceId: "gi-x" }, context)).rejects.toThrow(/coolingEpoch/);
  });
});

describe("the cooling-execution-ended Lambda", () => {
  it("terminates the instance of a cooling execution that failed", async () => {
    const instance = await coolingInstance("gi-failed-timer");
    const { handler } = await import("../../../lambdas/handlers/lambda/cooling-execution-ended.ts");
    const executionArn = `arn:aws:states:us-east-1:123456789012:execution:gpuctl-instance-cooling:gi-failed-timer-cooling-1-ab12`;
    const event = {
      version: "0",
      id: "315c1398-40ff-a850-213b-158f73e60175",
      "detail-type": "Step Functions Execution Status Change",
      source: "aws.states",
      account: "123456789012",
      time: "2026-01-01T00:10:00Z",
      region: "us-east-1",
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn:
          "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-instance-cooling",
        name: "gi-failed-timer-cooling-1-ab12",
        status: "FAILED",
        startDate: 1767225600000,
        stopDate: 1767226200000,
        input: JSON.stringify({
          instanceId: instance.id,
          coolingEpoch: instance.coolingEpoch,
          warmS: 600,
          stoppedS: 3600,
        }),
        output: null,
        inputDetails: { included: true },
        outputDetails: null,
        error: "States.Runtime",
        cause: "An error occurred while executing the state 'Stay warm'",
      },
    };
    expect(await handler(event, context)).toEqual({ terminated: true });
    expect(await instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(standIns.computeCalls).toEqual(["terminate gi-failed-timer"]);
  });
});

describe("start-up", () => {
  it("fails naming the variable a Lambda's ports need and the stack did not set", async () => {
    vi.stubEnv("TABLE_NAME", undefined);
    await expect(
      import("../../../lambdas/handlers/lambda/tasks/expire-cooling.ts"),
    ).rejects.toThrow(/TABLE_NAME is not set/);
  });

  it("names every variable missing or malformed at once", async () => {
    vi.stubEnv("TABLE_NAME", "");
    vi.stubEnv("AGENT_ENDPOINT", "http://api.example.com");
    vi.stubEnv("AGENT_SECRET_ARN", undefined);
    const failed = import("../../../lambdas/handlers/lambda/api.ts");
    await expect(failed).rejects.toThrow(/TABLE_NAME is empty/);
    await expect(failed).rejects.toThrow(/AGENT_ENDPOINT must be an https URL/);
    await expect(failed).rejects.toThrow(/AGENT_SECRET_ARN is not set/);
  });
});
