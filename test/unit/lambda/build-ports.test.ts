import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { CreateQueueCommand, SQSClient, TagQueueCommand } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { needs } from "../../../lambdas/use-cases/control-plane.ts";

const machine = (name: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;

const VARIABLES = {
  AWS_REGION: "us-east-1",
  BUCKET_NAME: "gpuctl-artifacts",
  EVENT_BUS_NAME: "gpuctl",
  JOB_LIFECYCLE_STATE_MACHINE_ARN: machine("lifecycle"),
  JOB_DEADLINE_STATE_MACHINE_ARN: machine("deadline"),
  INSTANCE_COOLING_STATE_MACHINE_ARN: machine("cooling"),
  COMMAND_QUEUE_PREFIX: "gpuctl-",
  ACCOUNT_ID: "123456789012",
  CONTROL_PLANE_NAME: "gpuctl",
  LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
  LAUNCH_TEMPLATE_VERSION: "1",
  SUBNET_IDS: "subnet-0aaa",
  INSTANCE_TYPES: "g5.xlarge",
  AGENT_BUNDLE_BUCKET: "gpuctl-assets",
  AGENT_BUNDLE_KEY: "agent/abc.mjs",
  AGENT_BUNDLE_SHA256: "a".repeat(64),
  NODE_RUNTIME_BUCKET: "gpuctl-assets",
  NODE_RUNTIME_KEY: "runtime/node.tar.xz",
  NODE_RUNTIME_SHA256: "b".repeat(64),
};

const ec2 = mockClient(EC2Client);
const sqs = mockClient(SQSClient);

/**
 * A fresh build-ports module: its clients and adapters are made once per module, as per
 * container. Its adapters' classes are fresh too, so they are told apart by name.
 */
const fresh = async () => {
  vi.resetModules();
  return {
    ...(await import("../../../lambdas/adapters/aws/build-ports.ts")),
    builders: {
      ...(await import("../../../lambdas/adapters/aws/builders/eventbridge.ts")),
      ...(await import("../../../lambdas/adapters/aws/builders/sfn.ts")),
      ...(await import("../../../lambdas/adapters/aws/builders/ec2.ts")),
      ...(await import("../../../lambdas/adapters/aws/builders/sqs.ts")),
      ...(await import("../../../lambdas/adapters/aws/builders/s3.ts")),
    },
  };
};

beforeEach(() => {
  ec2.reset();
  sqs.reset();
  // The SDK's clients read credentials only when they sign; none of these calls leave.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDLOCAL");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
  return () => vi.unstubAllEnvs();
});

describe("buildPorts", () => {
  it("builds each port's AWS adapter", async () => {
    const { buildPorts, builders } = await fresh();
    const { events, workflows, compute, commands, artifacts } = builders;
    const ports = await buildPorts(
      needs(["events", "workflows", "compute", "commands", "artifacts"]),
      { events, workflows, compute, commands, artifacts },
      VARIABLES,
    );
    expect(ports.events.constructor.name).toBe("EventBridgeBus");
    expect(ports.workflows.constructor.name).toBe("StepFunctionsWorkflows");
    expect(ports.compute.constructor.name).toBe("Ec2Compute");
    expect(ports.commands.constructor.name).toBe("SqsCommandQueue");
    expect(ports.artifacts.constructor.name).toBe("S3Artifacts");
  });

  it("reads only the variables of the ports asked for", async () => {
    const { buildPorts, builders } = await fresh();
    const ports = await buildPorts(
      needs(["events"]),
      { events: builders.events },
      { EVENT_BUS_NAME: "gpuctl" },
    );
    expect(ports.events.constructor.name).toBe("EventBridgeBus");
  });

  it("names the instance's queue and ARN in the region's partition", async () => {
    const { buildPorts, builders } = await fresh();
    const variables = { ...VARIABLES, AWS_REGION: "cn-north-1" };
    const { compute, commands } = await buildPorts(
      needs(["compute", "commands"]),
      { compute: builders.compute, commands: builders.commands },
      variables,
    );
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: "i-0abc" }] });
    const queueUrl = "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/gpuctl-gi-1";
    sqs.on(CreateQueueCommand).resolves({ QueueUrl: queueUrl });

    await compute.launch({
      instanceId: "gi-1",
      instanceType: "g5.xlarge",
      spot: false,
      jobId: "job-1",
      owner: "ada",
      envHash: "sha256:abc",
      region: "cn-north-1",
      agent: { endpoint: "https://api.example.com", token: "unused" },
    });
    await commands.open("gi-1", "i-0abc");

    const [launch] = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
    const userData = Buffer.from(launch?.UserData ?? "", "base64").toString("utf8");
    expect(userData).toContain(`GPUCTL_COMMAND_QUEUE_URL=${queueUrl}\n`);
    expect(sqs).toHaveReceivedCommandWith(TagQueueCommand, {
      Tags: {
        "gpuctl:agent-instance-arn": "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0abc",
      },
    });
  });
});
