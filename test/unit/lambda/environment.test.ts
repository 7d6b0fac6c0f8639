import { describe, expect, it } from "vitest";
import { EnvironmentError, readEnvironment } from "../../../lambdas/adapters/aws/environment.ts";

const FILES = {
  AGENT_BUNDLE_BUCKET: "gpuctl-assets",
  AGENT_BUNDLE_KEY: "agent/abc.mjs",
  AGENT_BUNDLE_SHA256: "a".repeat(64),
  NODE_RUNTIME_BUCKET: "gpuctl-assets",
  NODE_RUNTIME_KEY: "runtime/node-v22.23.3-linux-x64.tar.xz",
  NODE_RUNTIME_SHA256: "b".repeat(64),
};

const COMPUTE = {
  LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
  LAUNCH_TEMPLATE_VERSION: "$Latest",
  SUBNET_IDS: "subnet-0aaa, subnet-0bbb",
  INSTANCE_TYPES: "g5.xlarge,g6.xlarge",
  ...FILES,
};

describe("the Lambda environment", () => {
  it("reads only the kinds asked for, lists split in their order", () => {
    expect(readEnvironment(["compute"], COMPUTE)).toEqual({
      compute: {
        LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
        LAUNCH_TEMPLATE_VERSION: "$Latest",
        SUBNET_IDS: ["subnet-0aaa", "subnet-0bbb"],
        INSTANCE_TYPES: ["g5.xlarge", "g6.xlarge"],
        ...FILES,
      },
    });
  });

  it("reads the installation's spot and cooling settings as a flag and whole seconds", () => {
    expect(
      readEnvironment(["spot", "cooling"], {
        SPOT_ALLOWED: "false",
        COOLING_DEFAULT_S: "180",
        COOLING_MAX_S: "3600",
      }),
    ).toEqual({
      spot: { SPOT_ALLOWED: false },
      cooling: { COOLING_DEFAULT_S: 180, COOLING_MAX_S: 3600 },
    });
    expect(() =>
      readEnvironment(["spot", "cooling"], {
        SPOT_ALLOWED: "no",
        COOLING_DEFAULT_S: "1.5",
        COOLING_MAX_S: String(8 * 24 * 3600),
      }),
    ).toThrow(
      expect.objectContaining({
        problems: [
          {
            variable: "SPOT_ALLOWED",
            message: expect.stringMatching(/^must look like true or false/),
          },
          { variable: "COOLING_DEFAULT_S", message: expect.stringMatching(/^must look like 600/) },
          { variable: "COOLING_MAX_S", message: expect.stringMatching(/^must be at most 604800/) },
        ],
      }),
    );
  });

  it("names every missing or malformed variable, each once", () => {
    const read = () =>
      readEnvironment(["table", "compute", "stateMachines"], {
        ...COMPUTE,
        SUBNET_IDS: "subnet-0aaa,sg-0bbb",
        JOB_LIFECYCLE_STATE_MACHINE_ARN: "",
        JOB_DEADLINE_STATE_MACHINE_ARN: "job-deadline",
        INSTANCE_COOLING_STATE_MACHINE_ARN:
          "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-instance-cooling",
      });
    expect(read).toThrow(EnvironmentError);
    expect(() => read()).toThrow(
      expect.objectContaining({
        problems: [
          { variable: "TABLE_NAME", message: expect.stringMatching(/^is not set/) },
          { variable: "SUBNET_IDS", message: expect.stringMatching(/^must be a comma-separated/) },
          {
            variable: "JOB_LIFECYCLE_STATE_MACHINE_ARN",
            message: expect.stringMatching(/^is empty/),
          },
          {
            variable: "JOB_DEADLINE_STATE_MACHINE_ARN",
            message: expect.stringMatching(/^must look like arn:aws:states:/),
          },
        ],
      }),
    );
  });

  it("names each file of the user data by the variable that is wrong", () => {
    const read = () =>
      readEnvironment(["compute"], {
        ...COMPUTE,
        LAUNCH_TEMPLATE_VERSION: "latest",
        AGENT_BUNDLE_BUCKET: "Assets_Bucket",
        NODE_RUNTIME_KEY: undefined,
        NODE_RUNTIME_SHA256: "B".repeat(64),
      });
    expect(read).toThrow(
      expect.objectContaining({
        problems: [
          {
            variable: "LAUNCH_TEMPLATE_VERSION",
            message: expect.stringMatching(/^must look like 3 /),
          },
          { variable: "AGENT_BUNDLE_BUCKET", message: expect.stringMatching(/^must look like/) },
          { variable: "NODE_RUNTIME_KEY", message: expect.stringMatching(/^is not set/) },
          {
            variable: "NODE_RUNTIME_SHA256",
            message: expect.stringMatching(/^must look like 64 lowercase hex digits/),
          },
        ],
      }),
    );
  });

  it("refuses an account that is not 12 digits, and the instance role given as an ARN", () => {
    expect(() =>
      readEnvironment(["commandQueues", "agentRole"], {
        COMMAND_QUEUE_PREFIX: "gpuctl-",
        ACCOUNT_ID: "12345678901",
        AGENT_ROLE_NAME: "arn:aws:iam::123456789012:role/gpuctl-agent",
      }),
    ).toThrow(
      /ACCOUNT_ID must look like 123456789012 .*AGENT_ROLE_NAME must look like gpuctl-agent/,
    );
  });
});
