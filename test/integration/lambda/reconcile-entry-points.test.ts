/**
 * The EC2-events and reaper Lambdas, imported as Lambda loads them and invoked in-process
 * with the events EventBridge delivers (shapes from the EC2 and EventBridge user guides),
 * against DynamoDB Local. Compute is the EC2 adapter over a fake EC2 at the SDK boundary;
 * until build-ports.ts wires the compute, commands and workflows ports, this file hands
 * them in as the other entry points' tests do.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { DynamoInstanceStore } from "../../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { Ec2Compute } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { launchInstance, transitionInstance } from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { ControlPlane, PortName } from "../../../lambdas/use-cases/control-plane.ts";
import { ec2Client, fakeEc2 } from "../../fakes/fake-ec2.ts";
import { newRecord } from "../stores.ts";
import { freshTable } from "../table.ts";

const standIns = vi.hoisted(() => {
  const closed: string[] = [];
  const taskFailures: string[] = [];
  const ports: Partial<ControlPlane> = {
    events: { publish: async () => {} },
    commands: {
      open: async () => {},
      push: async () => {},
      close: async (instanceId) => void closed.push(instanceId),
    },
    workflows: {
      start: async (_machine, name) => ({ executionId: name }),
      sendTaskSuccess: async () => {},
      sendTaskFailure: async (token, error) => void taskFailures.push(`${error} ${token}`),
      sendTaskHeartbeat: async () => {},
    },
  };
  return { closed, taskFailures, ports };
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

const AT = "2026-01-01T00:00:00.000Z";
const pool = { instanceType: "g5.xlarge", envHash: "sha256:env", region: "us-east-1" };

let table: Awaited<ReturnType<typeof freshTable>>;
let jobs: DynamoJobStore;
let instances: DynamoInstanceStore;
let ec2: ReturnType<typeof fakeEc2>;
let compute: Ec2Compute;
let printed: () => string[];

beforeAll(async () => {
  table = await freshTable();
  jobs = new DynamoJobStore(table);
  instances = new DynamoInstanceStore(table);
});

beforeEach(() => {
  vi.resetModules();
  ec2 = fakeEc2();
  compute = new Ec2Compute({
    client: ec2Client(),
    launchTemplate: { id: "lt-0abc", version: "1" },
    subnetIds: ["subnet-a"],
    instanceTypes: ["g5.xlarge"],
    controlPlane: "gpuctl-test",
    userData: () => "#!/bin/sh\n",
  });
  standIns.ports.compute = compute;
  standIns.closed.length = 0;
  standIns.taskFailures.length = 0;
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation(() => {});
  vi.spyOn(console, "info").mockImplementation(() => {});
  printed = () => log.mock.calls.map(([line]) => String(line));
  for (const [name, value] of Object.entries({
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDLOCAL",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SESSION_TOKEN: "",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"),
    TABLE_NAME: table.tableName,
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    POWERTOOLS_DEV: "true",
    POWERTOOLS_METRICS_DISABLED: "false",
  }))
    vi.stubEnv(name, value);
});

afterEach(() => {
  ec2.mock.restore();
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

const launch = async (instanceId: string, spot: boolean) =>
  (
    await compute.launch({
      instanceId,
      instanceType: "g5.xlarge",
      spot,
      jobId: "j",
      owner: "ada",
      envHash: pool.envHash,
      region: pool.region,
      agent: { endpoint: "https://api.example.com", token: "unused" },
    })
  ).providerId;

/** A spot job TRAINING on its instance, stored, with the task its workflow waits on. */
const spotTraining = async (id: string) => {
  const instanceId = `gi-${id}`;
  const providerId = await launch(instanceId, true);
  let instance = launchInstance({ id: instanceId, providerId, pool, spot: true, jobId: id });
  for (const event of [{ type: "agentRegistered" }, { type: "jobRunning" }] as const) {
    const next = transitionInstance(instance, event);
    if (!next.ok) throw new Error(next.refusal.message);
    instance = next.instance;
  }
  await instances.create(instance, AT);
  const job: Job = { ...newRecord({ id, spot: true }).job, phase: "TRAINING", instanceId };
  await jobs.submit({ record: newRecord({ id, spot: true }, { job }) });
  await jobs.setTaskToken(id, `token-${id}`);
  return { instanceId, providerId };
};

/** EventBridge's envelope of an EC2 event, as the EC2 user guide shows it. */
const ec2Event = (detailType: string, providerId: string, detail: Record<string, string>) => ({
  version: "0",
  id: "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": detailType,
  source: "aws.ec2",
  account: "123456789012",
  time: "2026-01-01T00:10:00Z",
  region: "us-east-1",
  resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${providerId}`],
  detail: { "instance-id": providerId, ...detail },
});

describe("the EC2-events Lambda", () => {
  it("moves a spot job to PREEMPTING on the warning, and requeues it once the instance is gone", async () => {
    const { instanceId, providerId } = await spotTraining("spot-1");
    const { handler } = await import("../../../lambdas/handlers/lambda/ec2-events.ts");
    const warning = ec2Event("EC2 Spot Instance Interruption Warning", providerId, {
      "instance-action": "terminate",
    });
    expect(await handler(warning, context)).toEqual({ applied: "spotInterruptionNotice" });
    expect((await jobs.get("spot-1"))?.job.phase).toBe("PREEMPTING");

    const terminated = ec2Event("EC2 Instance State-change Notification", providerId, {
      state: "terminated",
    });
    expect(await handler(terminated, context)).toEqual({ applied: "vanished" });
    expect((await jobs.get("spot-1"))?.job).toMatchObject({
      phase: "REQUESTING_SERVER",
      requeues: 1,
    });
    expect(await instances.get(instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(standIns.closed).toEqual([instanceId]);
    expect(standIns.taskFailures).toEqual(["gpuctl.InstanceGone token-spot-1"]);
  });

  it("refuses an event it does not know, naming the field", async () => {
    const { handler } = await import("../../../lambdas/handlers/lambda/ec2-events.ts");
    const event = ec2Event("EC2 Instance State-change Notification", "i-0abc", {
      state: "hibernated",
    });
    await expect(handler(event, context)).rejects.toThrow(/state/);
  });
});

describe("the reaper Lambda", () => {
  it("terminates an instance no record claims and counts it in its metrics", async () => {
    const providerId = await launch("gi-orphan", false);
    const { handler } = await import("../../../lambdas/handlers/lambda/reaper.ts");
    const scheduled = {
      version: "0",
      id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: "123456789012",
      time: "2026-01-01T00:15:00Z",
      region: "us-east-1",
      resources: ["arn:aws:events:us-east-1:123456789012:rule/gpuctl-reaper"],
      detail: {},
    };
    expect(await handler(scheduled, context)).toEqual({
      done: { terminateOrphan: 1 },
      failed: [],
    });
    expect(ec2.instances.get(providerId)?.State?.Name).toMatch(/shutting-down|terminated/);
    expect(standIns.closed).toEqual(["gi-orphan"]);
    const emf = printed()
      .flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return [];
        }
      })
      .find((entry) => entry._aws?.CloudWatchMetrics && "ReapedTerminateOrphan" in entry);
    expect(emf).toMatchObject({ ReapedTerminateOrphan: 1, ReapFailed: 0 });
  });
});
