/**
 * The EC2-events and reaper Lambdas, imported as Lambda loads them and invoked in-process
 * with the events EventBridge delivers (shapes from the EC2 and EventBridge user guides):
 * their ports are the AWS adapters build-ports.ts wires, the stores on DynamoDB Local, EC2
 * the stateful fake behind aws-sdk-client-mock and every other client mocked, so each test
 * sees the AWS calls the reconciliation makes.
 */
import {
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { SendTaskFailureCommand } from "@aws-sdk/client-sfn";
import { DeleteQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TAGS } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import { ec2Client, ec2Error, fakeEc2 } from "../../fakes/fake-ec2.ts";
import { ec2Event, scheduledEvent } from "../../fixtures/aws-events.ts";
import { newRecord } from "../stores.ts";
import {
  AT,
  context,
  coolingInstance,
  endInvocation,
  eventBridge,
  instances,
  jobs,
  metricsPrinted,
  openTable,
  prepareInvocation,
  published,
  QUEUE_URLS,
  STACK_VARIABLES,
  sfn,
  sqs,
  storedInstance,
} from "./lambda-environment.ts";

let ec2: ReturnType<typeof fakeEc2>;

beforeEach(async () => {
  // The reaper reads every record: each test has a table of its own.
  await openTable();
  ec2 = fakeEc2();
  prepareInvocation();
});

afterEach(() => {
  ec2.mock.restore();
  endInvocation();
});

/**
 * An instance running on the fake EC2, tagged as the control plane's launches are; the
 * fake dates its launches on 2026-01-01, long past the reaper's grace for an orphan.
 */
const running = async (instanceId: string) => {
  const { Instances } = await ec2Client().send(
    new RunInstancesCommand({
      MinCount: 1,
      MaxCount: 1,
      InstanceType: "g5.xlarge",
      ClientToken: instanceId,
      TagSpecifications: [
        {
          ResourceType: "instance",
          Tags: [
            { Key: TAGS.controlPlane, Value: STACK_VARIABLES.CONTROL_PLANE_NAME },
            { Key: TAGS.instance, Value: instanceId },
          ],
        },
      ],
    }),
  );
  ec2.setState(Instances?.[0]?.InstanceId ?? "", "running");
  return Instances?.[0]?.InstanceId ?? "";
};

/** A spot job TRAINING on its instance, stored, with the task its workflow waits on. */
const spotTraining = async (id: string) => {
  const instanceId = `gi-${id}`;
  const providerId = await running(instanceId);
  await storedInstance(
    instanceId,
    providerId,
    id,
    [{ type: "agentRegistered" }, { type: "jobRunning" }],
    { spot: true },
  );
  const job: Job = { ...newRecord({ id, spot: true }).job, phase: "TRAINING", instanceId };
  await jobs.submit({ record: newRecord({ id, spot: true }, { job }) });
  await jobs.setTaskToken(id, `token-${id}`);
  return { instanceId, providerId };
};

describe("the EC2-events Lambda", () => {
  it("publishes PREEMPTING on the spot warning, and requeues the job once its instance is gone", async () => {
    const { instanceId, providerId } = await spotTraining("spot-1");
    const { handler } = await import("../../../lambdas/handlers/lambda/ec2-events.ts");

    const warning = ec2Event("EC2 Spot Instance Interruption Warning", providerId, {
      "instance-action": "terminate",
    });
    expect(await handler(warning, context)).toEqual({ applied: "spotInterruptionNotice" });
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ EventBusName: "gpuctl-test", Source: "gpuctl" })],
    });
    expect(published()).toEqual([
      expect.objectContaining({ jobId: "spot-1", phase: "PREEMPTING" }),
    ]);
    // The agent hears of it through its instance's queue: it stops the job and saves its checkpoint.
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-${instanceId}`,
      MessageBody: JSON.stringify({ type: "preempt", jobId: "spot-1" }),
    });

    eventBridge.resetHistory();
    const terminated = ec2Event("EC2 Instance State-change Notification", providerId, {
      state: "terminated",
    });
    expect(await handler(terminated, context)).toEqual({ applied: "vanished" });
    expect(published()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          jobId: "spot-1",
          event: "instanceGone",
          from: "PREEMPTING",
          phase: "REQUESTING_SERVER",
          reason: "SPOT_INTERRUPTED",
        }),
      ]),
    );
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: "token-spot-1",
      error: "gpuctl.InstanceGone",
    });
    expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-${instanceId}`,
    });
    expect((await jobs.get("spot-1"))?.job.requeues).toBe(1);
    expect(await instances.get(instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
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
  it("terminates an instance tagged as the control plane's that no record claims, and deletes its queue", async () => {
    const providerId = await running("gi-orphan");
    const { handler } = await import("../../../lambdas/handlers/lambda/reaper.ts");

    expect(await handler(scheduledEvent, context)).toEqual({
      done: { terminateOrphan: 1 },
      failed: [],
      orphans: ["gi-orphan"],
      canceled: [],
      deleteFailed: [],
      stuckJobs: [],
    });
    expect(ec2.mock).toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: [providerId],
    });
    expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-gi-orphan`,
    });
    expect(metricsPrinted()).toEqual([
      expect.objectContaining({ service: "gpuctl", OrphanInstances: 1 }),
    ]);
  });

  it("ends overdue cooling instances as their plans say: stopped with time left stopped, terminated without", async () => {
    const toStop = await running("gi-cool-stop");
    const toTerminate = await running("gi-cool-end");
    await coolingInstance("gi-cool-stop", toStop, "2026-01-01T06:00:00.000Z");
    await coolingInstance("gi-cool-end", toTerminate, AT);
    const { handler } = await import("../../../lambdas/handlers/lambda/reaper.ts");

    expect(await handler(scheduledEvent, context)).toEqual({
      done: { expireCooling: 2 },
      failed: [],
      orphans: [],
      canceled: [],
      deleteFailed: [],
      stuckJobs: [],
    });
    expect(ec2.mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [toStop] });
    expect(ec2.mock).toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: [toTerminate],
    });
    expect(ec2.mock).not.toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: [toStop],
    });
    expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-gi-cool-end`,
    });
    expect(sqs).not.toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: `${QUEUE_URLS}gpuctl-test-gi-cool-stop`,
    });
    expect(await instances.get("gi-cool-stop")).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });
  });

  it.each([
    ["throttled beyond the SDK's retries", "RequestLimitExceeded"],
    ["refused by EC2", "UnauthorizedOperation"],
  ])(
    "carries out its other actions when a TerminateInstances is %s, and counts the failure",
    async (_, errorName) => {
      const stuck = await running("gi-stuck");
      const orphan = await running("gi-orphan-2");
      ec2.mock
        .on(TerminateInstancesCommand, { InstanceIds: [stuck] })
        .rejects(ec2Error(errorName, `${errorName} on ${stuck}`));
      const logged = vi.spyOn(console, "error").mockImplementation(() => {});
      const { handler } = await import("../../../lambdas/handlers/lambda/reaper.ts");

      const report = await handler(scheduledEvent, context);
      expect(report).toEqual({
        done: { terminateOrphan: 1 },
        failed: [
          {
            type: "terminateOrphan",
            id: "gi-stuck",
            error: expect.stringContaining(errorName),
          },
        ],
        orphans: ["gi-stuck", "gi-orphan-2"],
        canceled: [],
        deleteFailed: [],
        stuckJobs: [],
      });
      expect(ec2.mock).toHaveReceivedCommandWith(TerminateInstancesCommand, {
        InstanceIds: [orphan],
      });
      expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
        QueueUrl: `${QUEUE_URLS}gpuctl-test-gi-orphan-2`,
      });
      expect(metricsPrinted()).toEqual([
        expect.objectContaining({ OrphanInstances: 2 }),
        expect.objectContaining({ ReaperFailures: 1 }),
      ]);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining("reaper actions failed"));
    },
  );
});
