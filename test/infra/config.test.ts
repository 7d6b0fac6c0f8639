import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_AMI_PARAMETER, readControlPlaneConfig } from "../../lib/config.ts";

/** Context as `cdk -c key=value` gives it: strings. */
const fromCommandLine = (context: Record<string, string>) =>
  readControlPlaneConfig(new App({ context }).node);

const refusal = (context: Record<string, unknown>): ConfigError => {
  try {
    readControlPlaneConfig(new App({ context }).node);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(context)}`);
};

describe("the control plane's configuration", () => {
  it("has safe defaults: a new VPC, three one-GPU types, spot allowed, the Deep Learning AMI, a $100 budget", () => {
    expect(readControlPlaneConfig(new App().node)).toEqual({
      instanceTypes: ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"],
      spot: true,
      coolingDefaultMinutes: 3,
      coolingMaxMinutes: 60,
      amiParameter: DEFAULT_AMI_PARAMETER,
      rootVolumeGiB: 100,
      rootDeviceName: "/dev/sda1",
      monthlyBudgetUsd: 100,
    });
  });

  it("reads strings from the command line", () => {
    expect(
      fromCommandLine({
        vpcId: "vpc-0123456789abcdef0",
        subnetIds: "subnet-0bbbbbbbbbbbbbbbb, subnet-0aaaaaaaaaaaaaaaa",
        instanceTypes: "g5.2xlarge,p4d.24xlarge",
        spot: "false",
        coolingDefaultMinutes: "5",
        coolingMaxMinutes: "30",
        rootVolumeGiB: "250",
        monthlyBudgetUsd: "40",
      }),
    ).toMatchObject({
      vpcId: "vpc-0123456789abcdef0",
      subnetIds: ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"],
      instanceTypes: ["g5.2xlarge", "p4d.24xlarge"],
      spot: false,
      coolingDefaultMinutes: 5,
      coolingMaxMinutes: 30,
      rootVolumeGiB: 250,
      monthlyBudgetUsd: 40,
    });
  });

  it("reads JSON values from cdk.json", () => {
    expect(
      readControlPlaneConfig(
        new App({ context: { instanceTypes: ["g6.xlarge"], spot: false, rootVolumeGiB: 150 } })
          .node,
      ),
    ).toMatchObject({ instanceTypes: ["g6.xlarge"], spot: false, rootVolumeGiB: 150 });
  });

  it.each([
    [{ vpcId: "vpc-0123456789abcdef0" }, "subnetIds", "must be set with vpcId (both or neither)"],
    [
      { subnetIds: "subnet-0aaaaaaaaaaaaaaaa" },
      "vpcId",
      "must be set with subnetIds (both or neither)",
    ],
    [
      { vpcId: "my-vpc", subnetIds: "subnet-0aaaaaaaaaaaaaaaa" },
      "vpcId",
      "must be like vpc-0123456789abcdef0",
    ],
    [
      { vpcId: "vpc-0123456789abcdef0", subnetIds: "subnet-0aaaaaaaaaaaaaaaa,sub-1" },
      "subnetIds",
      "must be like subnet-0123456789abcdef0",
    ],
    [{ instanceTypes: "" }, "instanceTypes", "must name at least one"],
    [{ instanceTypes: "g5.xlarge,A100" }, "instanceTypes", "must be like g5.xlarge"],
    [{ spot: "yes" }, "spot", "must be true or false"],
    [{ rootVolumeGiB: "lots" }, "rootVolumeGiB", "must be a number"],
    [{ rootVolumeGiB: "99.5" }, "rootVolumeGiB", "must be a whole number"],
    [{ rootVolumeGiB: "0" }, "rootVolumeGiB", "must be at least 1"],
    [{ coolingMaxMinutes: "2000" }, "coolingMaxMinutes", "must be at most 1440"],
    [
      { coolingDefaultMinutes: "90" },
      "coolingDefaultMinutes",
      "must not exceed coolingMaxMinutes (60)",
    ],
    [{ amiParameter: "ami-0abc" }, "amiParameter", "must be an SSM parameter name starting with /"],
    [{ rootDeviceName: "sda1" }, "rootDeviceName", "must be a device like /dev/sda1"],
    [{ monthlyBudgetUsd: "-5" }, "monthlyBudgetUsd", "must be at least 1"],
    [
      { userIssuer: "https://login.example.com/" },
      "userIssuer",
      "is no longer a setting: users sign in with gpuctl's own access tokens",
    ],
    [
      { userAudience: "gpuctl-cli" },
      "userAudience",
      "is no longer a setting: users sign in with gpuctl's own access tokens",
    ],
    [{ monthlyBudget: "50" }, "monthlyBudget", "is not a setting (they are: vpcId, subnetIds,"],
  ])("refuses %j, naming %s", (context, key, reason) => {
    const error = refusal(context);
    expect(error.problems).toContainEqual({ key, message: expect.stringContaining(reason) });
    expect(error.message).toContain(`${key} ${reason}`);
  });

  it("names every bad key at once", () => {
    expect(refusal({ spot: "maybe", rootVolumeGiB: "x" }).problems.map((p) => p.key)).toEqual([
      "spot",
      "rootVolumeGiB",
    ]);
  });
});
