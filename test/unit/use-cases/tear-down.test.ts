/** The teardown over the real EC2 and SQS adapters, with EC2 and SQS mocked. */
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  type Filter,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { DeleteQueueCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { Ec2Compute } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { SqsCommandQueue } from "../../../lambdas/adapters/aws/sqs/sqs-command-queue.ts";
import { tearDown } from "../../../lambdas/use-cases/tear-down.ts";

const REGION = "eu-west-1";
const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
const ec2Client = new EC2Client({ region: REGION, credentials: CREDENTIALS });
const sqsClient = new SQSClient({ region: REGION, credentials: CREDENTIALS });
const ec2 = mockClient(ec2Client);
const sqs = mockClient(sqsClient);

const cp = {
  compute: new Ec2Compute({
    client: ec2Client,
    launchTemplate: { id: "lt-0abc", version: "1" },
    subnetIds: ["subnet-0aaa"],
    instanceTypes: ["g5.xlarge"],
    controlPlane: "prod",
    userData: () => "",
  }),
  commands: new SqsCommandQueue({
    client: sqsClient,
    queuePrefix: "prod-",
    instanceArnPrefix: `arn:aws:ec2:${REGION}:123456789012:instance/`,
  }),
};

/** EC2 as these tests see it: each instance's gpuctl id, EC2 id and state. */
let fleet: Array<{ id: string; providerId: string; state: string }>;
/** EC2 ids whose TerminateInstances EC2 refuses. */
let refused: Set<string>;

const tag = (filters: Filter[] | undefined, key: string) =>
  filters?.find(({ Name }) => Name === `tag:${key}`)?.Values?.[0];

beforeEach(() => {
  ec2.reset();
  sqs.reset();
  refused = new Set();
  fleet = [
    { id: "i-running", providerId: "i-0001", state: "running" },
    { id: "i-stopped", providerId: "i-0002", state: "stopped" },
    { id: "i-gone", providerId: "i-0003", state: "terminated" },
  ];
  ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => {
    expect(tag(Filters, "gpuctl:control-plane")).toBe("prod");
    const only = tag(Filters, "gpuctl:instance");
    const Instances = fleet
      .filter(({ id }) => only === undefined || id === only)
      .map(({ id, providerId, state }) => ({
        InstanceId: providerId,
        State: { Name: state },
        Tags: [
          { Key: "gpuctl:control-plane", Value: "prod" },
          { Key: "gpuctl:instance", Value: id },
        ],
      }));
    return { Reservations: [{ Instances }] };
  });
  ec2.on(TerminateInstancesCommand).callsFake(({ InstanceIds }) => {
    for (const providerId of InstanceIds ?? []) {
      if (refused.has(providerId))
        throw new EC2ServiceException({
          name: "UnauthorizedOperation",
          $fault: "client",
          $metadata: {},
          message: "You are not authorized to perform this operation.",
        });
      const instance = fleet.find((one) => one.providerId === providerId);
      if (instance) instance.state = "shutting-down";
    }
    return {};
  });
  sqs
    .on(GetQueueUrlCommand)
    .callsFake(({ QueueName }) => ({ QueueUrl: `https://sqs/123456789012/${QueueName}` }));
  sqs.on(DeleteQueueCommand).resolves({});
});

describe("tearing down", () => {
  it("terminates every billing instance, running or stopped, and deletes every listed instance's queue", async () => {
    const report = await tearDown(cp);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ["i-0001"] });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ["i-0002"] });
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 2);
    expect(report.terminated.sort()).toEqual(["i-running", "i-stopped"]);
    expect(report.queuesClosed.sort()).toEqual(["i-gone", "i-running", "i-stopped"]);
    for (const id of ["i-running", "i-stopped", "i-gone"])
      expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
        QueueUrl: `https://sqs/123456789012/prod-${id}`,
      });
    expect(report.left).toEqual([]);
  });

  it("with nothing running, lists once and changes nothing", async () => {
    fleet = [];
    const report = await tearDown(cp);
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(report).toEqual({ terminated: [], queuesClosed: [], left: [] });
  });

  it("catches an instance launched after the first list, in the next round", async () => {
    let pauses = 0;
    const report = await tearDown(cp, {
      pause: async () => {
        pauses++;
        if (pauses === 1) fleet.push({ id: "i-late", providerId: "i-0004", state: "pending" });
      },
    });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ["i-0004"] });
    expect(report.terminated).toContain("i-late");
    expect(report.left).toEqual([]);
  });

  it("names what EC2 refused to terminate, keeps its queue, and ends the others all the same", async () => {
    refused.add("i-0002");
    const report = await tearDown(cp);
    expect(report.terminated).toEqual(["i-running"]);
    expect(report.left).toEqual([
      {
        instanceId: "i-stopped",
        providerId: "i-0002",
        what: "instance",
        error: expect.stringContaining("UnauthorizedOperation"),
      },
    ]);
    // Tried again in each round.
    expect(
      ec2
        .commandCalls(TerminateInstancesCommand)
        .filter(({ args }) => args[0].input.InstanceIds?.[0] === "i-0002"),
    ).toHaveLength(3);
    expect(sqs).not.toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: "https://sqs/123456789012/prod-i-stopped",
    });
    expect(report.queuesClosed.sort()).toEqual(["i-gone", "i-running"]);
  });

  it("names a queue SQS would not delete", async () => {
    sqs.on(DeleteQueueCommand).rejects(new Error("AccessDenied"));
    fleet = [{ id: "i-gone", providerId: "i-0003", state: "terminated" }];
    const report = await tearDown(cp);
    expect(report.left).toEqual([
      { instanceId: "i-gone", what: "queue", error: "Error: AccessDenied" },
    ]);
  });

  it("fails when the compute cannot be listed", async () => {
    ec2.on(DescribeInstancesCommand).rejects(new Error("throttled"));
    await expect(tearDown(cp)).rejects.toThrow("throttled");
  });
});
