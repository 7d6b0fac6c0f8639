import { afterEach, describe } from "vitest";
import { Ec2Compute } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { ec2Client, fakeEc2 } from "../../fakes/fake-ec2.ts";
import { computeContract } from "./compute.contract.ts";

let ec2: ReturnType<typeof fakeEc2> | undefined;
afterEach(() => ec2?.mock.restore());

describe("the Compute contract: EC2", () => {
  computeContract(async () => {
    ec2 = fakeEc2({ pageSize: 2 });
    const compute = new Ec2Compute({
      client: ec2Client(),
      launchTemplate: { id: "lt-0123", version: "$Latest" },
      subnetIds: ["subnet-a", "subnet-b"],
      instanceTypes: ["g5.xlarge"],
      controlPlane: "gpuctl-test",
      userData: () => "#!/bin/sh\n",
      stoppedWaitS: 30,
    });
    return { compute, instanceType: "g5.xlarge", agent: { endpoint: "https://x", token: "t" } };
  });
});
