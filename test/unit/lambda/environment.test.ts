import { describe, expect, it } from "vitest";
import { EnvironmentError, readEnvironment } from "../../../lambdas/adapters/aws/environment.ts";

const COMPUTE = {
  LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
  SUBNET_IDS: "subnet-0aaa, subnet-0bbb",
  INSTANCE_TYPES: "g5.xlarge,g6.xlarge",
};

describe("the Lambda environment", () => {
  it("reads only the kinds asked for, lists split in their order", () => {
    expect(readEnvironment(["compute"], COMPUTE)).toEqual({
      compute: {
        LAUNCH_TEMPLATE_ID: "lt-0123456789abcdef0",
        SUBNET_IDS: ["subnet-0aaa", "subnet-0bbb"],
        INSTANCE_TYPES: ["g5.xlarge", "g6.xlarge"],
      },
    });
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
});
