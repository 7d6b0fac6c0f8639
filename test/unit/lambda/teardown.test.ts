/** The teardown custom resource's handler, answering a local server standing in for CloudFormation's ResponseURL. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sendCustomResourceResponse } from "../../../lambdas/adapters/aws/cloudformation/custom-resource-response.ts";
import {
  TEARDOWN_RESOURCE_ID,
  teardownRequested,
} from "../../../lambdas/handlers/events/teardown.ts";
import type { ComputeInstance } from "../../../lambdas/ports.ts";

/** Each PUT the server received: its path, content type and JSON body. */
let received: Array<{ method: string; path: string; contentType: string; body: unknown }>;
let status = 200;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      received.push({
        method: request.method ?? "",
        path: request.url ?? "",
        contentType: request.headers["content-type"] ?? "(none)",
        body: JSON.parse(body),
      });
      response.writeHead(status).end(status === 200 ? "" : "<Error>SignatureDoesNotMatch</Error>");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

let fleet: ComputeInstance[];
let terminated: string[];
let closed: string[];
const cp = {
  compute: {
    list: async () => fleet,
    terminate: async (instanceId: string) => {
      if (instanceId === "i-stuck") throw new Error("UnauthorizedOperation");
      terminated.push(instanceId);
      fleet = fleet.map((one) =>
        one.instanceId === instanceId ? { ...one, state: "shutting-down" } : one,
      );
    },
  },
  commands: {
    close: async (instanceId: string) => {
      closed.push(instanceId);
    },
  },
} as unknown as Parameters<typeof teardownRequested>[0];

const request = (RequestType: string, extra: Record<string, unknown> = {}) => ({
  RequestType,
  ResponseURL: `${base}/cfn-response?X-Amz-Signature=abc`,
  StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Gpuctl/1",
  RequestId: "req-1",
  LogicalResourceId: "Teardown0042FE15",
  ResourceType: "AWS::CloudFormation::CustomResource",
  ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:teardown",
  ...extra,
});
const answer = (remainingMs = 600_000) => ({
  respond: sendCustomResourceResponse,
  remainingMs: () => remainingMs,
  logStream: "2026/01/01/[$LATEST]abc",
});
const instance = (instanceId: string, state: ComputeInstance["state"]): ComputeInstance => ({
  instanceId,
  providerId: `ec2-${instanceId}`,
  state,
  launchedAt: "2026-01-01T00:00:00Z",
});
const ids = {
  StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Gpuctl/1",
  RequestId: "req-1",
  LogicalResourceId: "Teardown0042FE15",
};

beforeEach(() => {
  received = [];
  status = 200;
  fleet = [instance("i-1", "running"), instance("i-2", "stopped")];
  terminated = [];
  closed = [];
});

describe("the teardown custom resource", () => {
  it("on Create answers SUCCESS with its fixed id, by a PUT with no content type, and ends nothing", async () => {
    await teardownRequested(cp, request("Create"), answer());
    expect(received).toEqual([
      {
        method: "PUT",
        path: "/cfn-response?X-Amz-Signature=abc",
        contentType: "",
        body: { Status: "SUCCESS", PhysicalResourceId: TEARDOWN_RESOURCE_ID, ...ids },
      },
    ]);
    expect(terminated).toEqual([]);
  });

  it("on Update answers SUCCESS with the id it was given, so nothing is replaced", async () => {
    await teardownRequested(
      cp,
      request("Update", { PhysicalResourceId: "gpuctl-teardown" }),
      answer(),
    );
    expect(received[0]?.body).toEqual({
      Status: "SUCCESS",
      PhysicalResourceId: "gpuctl-teardown",
      ...ids,
    });
    expect(terminated).toEqual([]);
  });

  it("on Delete terminates every instance and deletes the queues before answering SUCCESS", async () => {
    const { report } = await teardownRequested(
      cp,
      request("Delete", { PhysicalResourceId: "gpuctl-teardown" }),
      answer(),
    );
    expect(terminated.sort()).toEqual(["i-1", "i-2"]);
    expect(closed.sort()).toEqual(["i-1", "i-2"]);
    expect(report?.left).toEqual([]);
    expect(received[0]?.body).toMatchObject({ Status: "SUCCESS" });
  });

  /** Runs a Delete to its end and returns what CloudFormation was answered. */
  const deleteAnswered = async () => {
    await teardownRequested(
      cp,
      request("Delete", { PhysicalResourceId: "gpuctl-teardown" }),
      answer(),
    );
    return received[0]?.body as { Status: string; Reason: string };
  };

  it("on Delete answers FAILED naming the instance left, so CloudFormation stops the deletion", async () => {
    fleet.push(instance("i-stuck", "running"));
    const body = await deleteAnswered();
    expect(body.Status).toBe("FAILED");
    expect(body.Reason).toContain("i-stuck (ec2-i-stuck): Error: UnauthorizedOperation");
    expect(body.Reason).toContain("run cdk destroy again");
    expect(closed).not.toContain("i-stuck");
  });

  it("keeps a long list of what is left within CloudFormation's 4096-byte response", async () => {
    fleet = Array.from({ length: 300 }, (_, n) => ({
      ...instance("i-stuck", "running"),
      providerId: `ec2-${n}`,
    }));
    const body = await deleteAnswered();
    expect(body.Status).toBe("FAILED");
    expect(body.Reason).toContain("300 left");
    expect(JSON.stringify(body).length).toBeLessThanOrEqual(4096);
  });

  it("answers FAILED when the compute cannot be listed, or time runs out", async () => {
    const broken = { ...cp, compute: { list: async () => Promise.reject(new Error("throttled")) } };
    await teardownRequested(broken as unknown as typeof cp, request("Delete"), answer());
    expect(received[0]?.body).toMatchObject({
      Status: "FAILED",
      Reason: expect.stringContaining("throttled"),
    });
    const hung = { ...cp, compute: { list: () => new Promise(() => {}) } };
    await teardownRequested(hung as unknown as typeof cp, request("Delete"), answer(30_050));
    expect(received[1]?.body).toMatchObject({
      Status: "FAILED",
      Reason: expect.stringContaining("did not finish in time"),
    });
  });

  it("throws when the answer is not taken, so Lambda's retry answers again", async () => {
    status = 403;
    await expect(teardownRequested(cp, request("Create"), answer())).rejects.toThrow(
      "answered 403",
    );
  });

  it("refuses what is not a custom resource request, naming the field", async () => {
    await expect(
      teardownRequested(cp, { ...request("Delete"), ResponseURL: undefined }, answer()),
    ).rejects.toThrow("ResponseURL");
  });
});
