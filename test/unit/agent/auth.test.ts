/** How the agent proves its instance: a bearer token locally, a SigV4 signature on AWS. */
import { describe, expect, it } from "vitest";
import { InstanceRoleSignature, InstanceToken } from "../../../agent/auth.ts";
import { ControlPlane } from "../../../agent/client.ts";
import { AGENT_HEADERS } from "../../../agent/protocol.ts";

const SESSION = {
  accessKeyId: "ASIAEXAMPLEEXAMPLE00",
  secretAccessKey: "secret-example",
  sessionToken: "session-token-example",
};
const request = {
  method: "POST",
  url: "https://api.example.com/agent/v1/tasks/succeed",
  headers: { "content-type": "application/json", [AGENT_HEADERS.assignment]: "credential" },
  body: '{"taskToken":"t","output":{}}',
};

describe("InstanceRoleSignature", () => {
  const proof = new InstanceRoleSignature({
    region: "eu-west-1",
    instanceId: "gi-0123",
    credentials: async () => SESSION,
  });

  it("signs for execute-api with the session's credentials, naming the gpuctl instance", async () => {
    const headers = await proof.headers(request);
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE00\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*gpuctl-assignment;gpuctl-instance;host;[^,]*x-amz-security-token[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(headers["x-amz-security-token"]).toBe(SESSION.sessionToken);
    expect(headers["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
    expect(headers[AGENT_HEADERS.instance]).toBe("gi-0123");
    // fetch sets Host itself.
    expect(headers.host).toBeUndefined();
  });

  it("signs the body: another body, another signature", async () => {
    const one = await proof.headers(request);
    const other = await proof.headers({ ...request, body: "{}" });
    expect(one.authorization).not.toBe(other.authorization);
  });
});

describe("ControlPlane's headers", () => {
  it("carry the instance's proof and the assignment on every JSON request", async () => {
    const seen: Headers[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (_: unknown, init?: RequestInit) => {
      seen.push(new Headers(init?.headers));
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    try {
      const cp = new ControlPlane("http://cp.example", new InstanceToken("instance-token"));
      await cp.heartbeat("credential", "task");
    } finally {
      globalThis.fetch = original;
    }
    expect(seen[0]?.get("authorization")).toBe("Bearer instance-token");
    expect(seen[0]?.get(AGENT_HEADERS.assignment)).toBe("credential");
  });

  it("give transfers outside the control plane nothing", () => {
    const cp = new ControlPlane("http://cp.example", new InstanceToken("instance-token"));
    expect(cp.authFor("https://bucket.s3.example/x?X-Amz-Signature=s", "credential")).toEqual({});
    expect(cp.authFor("http://cp.example/agent/v1/artifacts/inputs/a", "credential")).toEqual({
      authorization: "Bearer instance-token",
      [AGENT_HEADERS.assignment]: "credential",
    });
  });
});
