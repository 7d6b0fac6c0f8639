import { describe, expect, it } from "vitest";
import { LOG_SYNC_S, readConfig } from "../../../agent/config.ts";
import { LIMITS } from "../../../lambdas/domain/limits.ts";

const ON_AWS = {
  GPUCTL_RUNTIME: "aws",
  AWS_REGION: "eu-west-1",
  GPUCTL_COMMAND_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/q",
  GPUCTL_ENDPOINT: "https://api.example.com",
  GPUCTL_INSTANCE_ID: "i-1",
  GPUCTL_AGENT_HOME: "/var/lib/gpuctl",
};

describe("the agent's log settings", () => {
  it("uploads logs every few seconds, each up to what one upload takes, unless told", () => {
    expect(readConfig(ON_AWS)).toMatchObject({
      logSyncMs: LOG_SYNC_S * 1000,
      logMaxBytes: LIMITS.resultFileBytes,
    });
    expect(
      readConfig({ ...ON_AWS, GPUCTL_LOG_SYNC_S: "0.2", GPUCTL_LOG_MAX_BYTES: "1000" }),
    ).toMatchObject({ logSyncMs: 200, logMaxBytes: 1000 });
  });

  it.each([
    ["GPUCTL_LOG_SYNC_S", "0"],
    ["GPUCTL_LOG_SYNC_S", "soon"],
    ["GPUCTL_LOG_MAX_BYTES", "0"],
    ["GPUCTL_LOG_MAX_BYTES", "1.5"],
    ["GPUCTL_LOG_MAX_BYTES", String(LIMITS.resultFileBytes + 1)],
  ])("refuses %s=%s, naming it", (name, value) => {
    expect(() => readConfig({ ...ON_AWS, [name]: value })).toThrow(name);
  });
});
