import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS } from "../../../lambdas/domain/limits.ts";
import { ApiRequestError, GpuctlClient, UnreachableError } from "../../../sdk/client.ts";
import {
  apiError,
  closedPort,
  type FakeApi,
  type Handler,
  instanceView,
  jobView,
  startFakeApi,
} from "./fake-api.ts";
import { type FakeLogs, logsRoute } from "./fake-logs.ts";

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const start = async (handler: Handler, options: { token?: string; prefix?: string } = {}) => {
  api = await startFakeApi(handler);
  const client = new GpuctlClient({
    endpoint: `${api.endpoint}${options.prefix ?? ""}`,
    ...(options.token && { token: options.token }),
  });
  return { api, client };
};

const only = (api: FakeApi) => {
  expect(api.requests).toHaveLength(1);
  return api.requests[0] as NonNullable<(typeof api.requests)[0]>;
};

const JOB = jobView({ id: "job-1", phase: "QUEUED" });

describe("GpuctlClient requests", () => {
  it("submits a spec as JSON with the idempotency key and the bearer token", async () => {
    const { api, client } = await start(() => ({ status: 201, json: JOB }), { token: "s3cret" });
    const spec = { name: "train", instance: { types: ["local"] }, run: "echo hi" };

    const job = await client.submitJob(spec, { idempotencyKey: "key-1" });

    expect(job).toEqual(JOB);
    const request = only(api);
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/v1/jobs");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["idempotency-key"]).toBe("key-1");
    expect(request.headers.authorization).toBe("Bearer s3cret");
    expect(JSON.parse(request.body.toString("utf8"))).toEqual(spec);
  });

  it("sends no authorization or idempotency header when it has none", async () => {
    const { api, client } = await start(() => ({ status: 201, json: JOB }));
    await client.submitJob({ name: "train", instance: { types: ["local"] }, run: "true" });
    const { headers } = only(api);
    expect(headers.authorization).toBeUndefined();
    expect(headers["idempotency-key"]).toBeUndefined();
  });

  it("keeps a path prefix on the endpoint and drops its trailing slash", async () => {
    const { api, client } = await start(() => ({ json: { items: [] } }), { prefix: "/prod/" });
    await client.listJobs();
    expect(only(api).path).toBe("/prod/v1/jobs");
  });

  it("gets a job in a dialect, encoding the id", async () => {
    const { api, client } = await start(() => ({ json: JOB }));
    await client.getJob("a/b c", { dialect: "runai" });
    const request = only(api);
    expect(request.method).toBe("GET");
    expect(request.path).toBe("/v1/jobs/a%2Fb%20c");
    expect(request.query.get("dialect")).toBe("runai");
  });

  it("lists jobs with limit and cursor, and without a query when given none", async () => {
    const page = { items: [JOB], cursor: "next" };
    const { api, client } = await start(() => ({ json: page }));
    expect(await client.listJobs({ limit: 5, cursor: "abc" })).toEqual(page);
    await client.listJobs();
    expect(api.requests.map((request) => [request.path, request.query.toString()])).toEqual([
      ["/v1/jobs", "limit=5&cursor=abc"],
      ["/v1/jobs", ""],
    ]);
  });

  it("posts cancel, complete and complete-by-model to their paths", async () => {
    const { api, client } = await start(() => ({ json: JOB }));
    await client.cancelJob("job-1");
    await client.completeJob("job-2");
    await client.completeDeployment("llama 3");
    expect(api.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      "POST /v1/jobs/job-1/cancel",
      "POST /v1/jobs/job-2/complete",
      "POST /v1/deployments/llama%203/complete",
    ]);
  });

  it("unwraps the items of events, outputs and instances, and returns the timeline", async () => {
    const event = { version: 1, at: "2025-01-01T00:00:00Z", type: "submitted", phase: "SUBMITTED" };
    const periods = [{ phase: "Job Create", startedAt: "2025-01-01T00:00:00Z", seconds: 1.5 }];
    const instance = instanceView({ id: "i-1" });
    const { api, client } = await start((request) => {
      if (request.path === "/v1/jobs/job-1/events") return { json: { items: [event] } };
      if (request.path === "/v1/jobs/job-1/outputs") return { json: { items: ["a.txt"] } };
      if (request.path === "/v1/jobs/job-1/timeline") return { json: { periods } };
      if (request.path === "/v1/instances") return { json: { items: [instance] } };
      return undefined;
    });
    expect(await client.jobEvents("job-1")).toEqual([event]);
    expect(await client.listOutputs("job-1")).toEqual(["a.txt"]);
    expect(await client.jobTimeline("job-1")).toEqual({ periods });
    expect(await client.listInstances()).toEqual([instance]);
    expect(api.requests.every((request) => request.method === "GET")).toBe(true);
  });

  it("downloads an output as the exact bytes, keeping the slashes of its path", async () => {
    const bytes = new Uint8Array([0, 255, 10, 13, 128]);
    const { api, client } = await start(() => ({ body: bytes }));
    expect(await client.downloadOutput("job-1", "logs/run 1.bin")).toEqual(bytes);
    expect(only(api).path).toBe("/v1/jobs/job-1/outputs/logs/run%201.bin");
  });

  it("announces an input by SHA-256 and size, then PUTs it where told, without its token elsewhere", async () => {
    const bytes = new TextEncoder().encode("a,b\n1,2\n");
    const sha = createHash("sha256").update(bytes).digest("hex");
    const { api, client } = await start(
      (request) => {
        if (request.method === "PUT") return { status: 200 };
        // Another origin for the same server: as a presigned S3 URL is.
        const url = `${api.endpoint.replace("127.0.0.1", "localhost")}/bucket/inputs/${sha}?X-Amz-Signature=s`;
        return {
          json: {
            sha256: sha,
            stored: false,
            upload: { url, headers: { "x-amz-checksum-sha256": "c" } },
          },
        };
      },
      { token: "s3cret" },
    );
    expect(await client.uploadInput(bytes)).toEqual({ sha256: sha });
    const [announce, put] = api.requests;
    expect(announce?.path).toBe("/v1/inputs");
    expect(JSON.parse(announce?.body.toString() ?? "")).toEqual({
      sha256: sha,
      size: bytes.byteLength,
    });
    expect(announce?.headers.authorization).toBe("Bearer s3cret");
    expect(put?.method).toBe("PUT");
    expect(put?.path).toBe(`/bucket/inputs/${sha}`);
    expect(put?.headers["x-amz-checksum-sha256"]).toBe("c");
    expect(put?.headers.authorization).toBeUndefined();
    expect(new Uint8Array(put?.body ?? [])).toEqual(bytes);
  });

  it("sends nothing more for an input stored already", async () => {
    const sha = createHash("sha256").update("x").digest("hex");
    const { api, client } = await start(() => ({ json: { sha256: sha, stored: true } }));
    expect(await client.uploadInput(new TextEncoder().encode("x"))).toEqual({ sha256: sha });
    expect(only(api).path).toBe("/v1/inputs");
  });

  it("lists every page of a job's outputs", async () => {
    const { api, client } = await start((request) =>
      request.query.get("cursor") === "next"
        ? { json: { items: ["c"] } }
        : { json: { items: ["a", "b"], cursor: "next" } },
    );
    expect(await client.listOutputs("job-1")).toEqual(["a", "b", "c"]);
    expect(api.requests).toHaveLength(2);
  });
});

describe("GpuctlClient errors", () => {
  it("throws ApiRequestError with the status, code, message and fields", async () => {
    const fields = [{ field: "name", message: "must be 1-63 lowercase letters" }];
    const { client } = await start(() => apiError(400, "VALIDATION", "invalid job spec", fields));
    const error = await client
      .submitJob({ name: "X", instance: { types: ["local"] }, run: "true" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({
      status: 400,
      code: "VALIDATION",
      message: "invalid job spec",
      fields,
      body: { error: { code: "VALIDATION", message: "invalid job spec", fields } },
    });
  });

  it("maps a 404 on a download to NOT_FOUND", async () => {
    const { client } = await start(() => apiError(404, "NOT_FOUND", "no output x"));
    await expect(client.downloadOutput("job-1", "x")).rejects.toMatchObject({
      status: 404,
      code: "NOT_FOUND",
      fields: [],
    });
  });

  it("makes an ApiError up for a body that is not one", async () => {
    const { client } = await start(() => ({
      status: 502,
      body: "<html>Bad Gateway</html>",
      contentType: "text/html",
    }));
    const error = await client.listInstances().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({ status: 502, code: "INTERNAL" });
    expect((error as Error).message).toMatch(/^HTTP 502 .*Bad Gateway/);
  });

  it("knows a proxy's 413 for a body too large", async () => {
    const { client } = await start(() => ({
      status: 413,
      body: '{"message":"Request Entity Too Large"}',
      contentType: "application/json",
    }));
    const error = await client.uploadInput(new Uint8Array(8)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 413, code: "TOO_LARGE" });
    expect((error as Error).message).toMatch(/^HTTP 413 .*Request Entity Too Large/);
  });

  it.each([
    [
      "an input",
      (client: GpuctlClient) => client.uploadInput(new Uint8Array(LIMITS.inputBytes + 1)),
    ],
    [
      "a spec",
      (client: GpuctlClient) =>
        client.submitJob({
          name: "x",
          instance: { types: ["local"] },
          run: "x".repeat(LIMITS.jsonBodyBytes),
        }),
    ],
  ])("refuses %s over the API's limit as the API would, without sending it", async (_, call) => {
    const { api, client } = await start(() => ({ status: 201, json: {} }));
    const error = await call(client).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 413, code: "TOO_LARGE", fields: [{ field: "(body)" }] });
    expect(api.requests).toEqual([]);
  });

  it("says the control plane is not reachable when the connection is refused", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const error = await new GpuctlClient({ endpoint })
      .listJobs()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnreachableError);
    expect((error as Error).message).toBe(
      `the control plane at ${endpoint} is not reachable (is \`npm start\` running?)`,
    );
  });
});

describe("GpuctlClient logs", () => {
  it("reads one chunk of a stream from an offset", async () => {
    const logs: FakeLogs = { streams: { stderr: "boom\n" }, ended: true };
    const { api, client } = await start(logsRoute("job 1", logs));
    expect(await client.jobLogs("job 1", { stream: "stderr", offset: 1 })).toEqual({
      stream: "stderr",
      offset: 1,
      nextOffset: 5,
      size: 5,
      text: "oom\n",
      ended: true,
    });
    expect(only(api).path).toBe("/v1/jobs/job%201/logs");
  });

  it("follows a stream chunk by chunk as it grows, until it has ended", async () => {
    const logs: FakeLogs = { streams: { stdout: "one\n" }, ended: false };
    const { api, client } = await start(logsRoute("job-1", logs, 3));
    const texts: string[] = [];
    for await (const chunk of client.followLogs("job-1", { intervalMs: 1 })) {
      texts.push(chunk.text);
      // The job writes more once the first line is shown, then ends.
      if (texts.join("") === "one\n") logs.streams.stdout = "one\ntwo\n";
      if (texts.join("") === "one\ntwo\n") logs.ended = true;
    }
    expect(texts.join("")).toBe("one\ntwo\n");
    expect(texts.every((text) => text.length <= 3)).toBe(true);
    const offsets = api.requests.map((request) => request.query.get("offset"));
    expect(offsets.slice(0, 3)).toEqual(["0", "3", "4"]);
  });

  it("reads a stream again from its start when it became shorter than what was read", async () => {
    const logs: FakeLogs = { streams: { stdout: "attempt 1 wrote this\n" }, ended: false };
    const { client } = await start(logsRoute("job-1", logs));
    const texts: string[] = [];
    for await (const chunk of client.followLogs("job-1", { intervalMs: 1 })) {
      texts.push(chunk.text);
      if (texts.length === 1) logs.streams.stdout = "attempt 2\n";
      else logs.ended = true;
    }
    expect(texts).toEqual(["attempt 1 wrote this\n", "attempt 2\n"]);
  });

  it("stops following when its signal is aborted", async () => {
    const logs: FakeLogs = { streams: { stdout: "forever\n" }, ended: false };
    const { client } = await start(logsRoute("job-1", logs));
    const controller = new AbortController();
    const texts: string[] = [];
    for await (const chunk of client.followLogs("job-1", {
      signal: controller.signal,
      intervalMs: 60_000,
    })) {
      texts.push(chunk.text);
      controller.abort();
    }
    expect(texts).toEqual(["forever\n"]);
  });
});
