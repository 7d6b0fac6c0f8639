import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AGENT_HEADERS } from "../../agent/protocol.ts";
import { CHECKSUM_HEADER, checksumOf } from "../../lambdas/domain/artifacts.ts";
import { LIMITS } from "../../lambdas/domain/limits.ts";
import { agentAccess, assignmentCredential } from "../../lambdas/use-cases/agent-identity.ts";
import type { ApiError } from "../../sdk/api-types.ts";
import { ApiRequestError } from "../../sdk/client.ts";
import { API_ROUTES, type ApiRoute } from "../../sdk/contract/routes.ts";
import { gpuctl } from "../unit/cli/run-gpuctl.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

const INSTANCE = "i-bad-input";
const JOB = "job-bad-input";
const AT = "2026-01-01T00:00:00.000Z";
const MiB = 1024 * 1024;

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dynamodb: DynamoDBClient;
/** The instance's own token proves the agent; a request about a job also takes its credential. */
let agentToken: string;
let jobCredential: string;
/** HTTP requests the control plane has received. */
let requests = 0;

/** Everything a request could leave behind: items, workflows, published events, artifact files. */
const snapshot = async () => {
  const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: "gpuctl" }));
  const root = join(plane.stateDir, "artifacts");
  const files = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return {
    items: Items.map((item) => JSON.stringify(item)).sort(),
    executions: plane.workflows.executions().map((execution) => execution.name),
    events: plane.events.length,
    files: files
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort(),
  };
};

beforeAll(async () => {
  plane = await startTestControlPlane({
    probes: {
      dynamodb: (client) => {
        dynamodb = client;
      },
      apiRequest: (_request, handle) => {
        requests++;
        return handle();
      },
    },
  });
  // A job running on an instance, so an agent's report about it would be taken if it were valid.
  await plane.cp.instances.create(
    {
      id: INSTANCE,
      status: "EXECUTING",
      jobId: JOB,
      pool: { instanceType: "local", envHash: "e", region: "local", owner: "ada" },
      spot: false,
      coolingEpoch: 0,
      version: 1,
    },
    AT,
  );
  const job = await plane.client.submitJob(trainingSpec({ review: true }));
  await plane.waitFor(job.id, (view) => view.phase === "PENDING_REVIEW");
  const record = await plane.cp.jobs.get(job.id);
  if (!record) throw new Error("no job");
  await plane.cp.jobs.submit({
    record: { ...record, job: { ...record.job, id: JOB, phase: "TRAINING", instanceId: INSTANCE } },
  });
  agentToken = agentAccess(plane.cp, INSTANCE).token;
  jobCredential = assignmentCredential(plane.cp.settings.agent.secret, {
    instanceId: INSTANCE,
    jobId: JOB,
    attempt: record.job.attempt,
    requeues: record.job.requeues,
  });
}, 60_000);
afterAll(() => plane?.stop());

type Audience = "user" | "agent";

interface BadRequest {
  name: string;
  audience: Audience;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON, a string or bytes as they are. */
  body?: unknown;
  status: number;
  field: string;
  message: RegExp;
}

/** A user's token; an agent's instance token, with a job's credential on a request about a job. */
const credentials = (audience: Audience, path: string): Record<string, string> =>
  audience === "user"
    ? { authorization: `Bearer ${plane.userToken}` }
    : {
        authorization: `Bearer ${agentToken}`,
        ...(path.endsWith("/poll") ? {} : { [AGENT_HEADERS.assignment]: jobCredential }),
      };

type Sent = Pick<BadRequest, "audience" | "method" | "path" | "headers" | "body">;
type Answer = { status: number; body: ApiError };

const bytesOf = (body: unknown): string | Uint8Array | undefined =>
  body === undefined || typeof body === "string" || body instanceof Uint8Array
    ? body
    : JSON.stringify(body);

const send = async (row: Sent): Promise<Answer> => {
  const body = bytesOf(row.body);
  const response = await fetch(`${plane.endpoint}${row.path}`, {
    method: row.method,
    headers: { ...credentials(row.audience, row.path), ...row.headers },
    ...(body !== undefined ? { body: body as string | Uint8Array<ArrayBuffer> } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as ApiError };
};

/**
 * Sends only the headers of a request, declaring `bytes` of body, and takes the answer. A
 * client still writing a body the server has refused (and closed the connection on) may see
 * the connection break before it reads the answer, so refusals of size are asked this way.
 */
const declare = (row: Omit<Sent, "body">, bytes: number) =>
  new Promise<Answer>((resolve, reject) => {
    const request = httpRequest(`${plane.endpoint}${row.path}`, {
      method: row.method,
      headers: {
        ...credentials(row.audience, row.path),
        ...row.headers,
        "content-length": String(bytes),
      },
    });
    request.on("error", reject);
    request.on("response", (response) => {
      let text = "";
      response.on("data", (chunk) => {
        text += chunk;
      });
      response.on("end", () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as ApiError });
      });
    });
    request.flushHeaders();
  });

const byteLength = (body: unknown) => Buffer.byteLength(bytesOf(body) ?? "");

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const long = (length: number) => "x".repeat(length);
const spec = (fields: Record<string, unknown>) => ({
  name: "bad",
  instance: { types: ["local"] },
  run: "true",
  ...fields,
});
const sealed = (task: Record<string, unknown>) =>
  Buffer.from(JSON.stringify(task)).toString("base64url");
const tenMiB = randomBytes(10 * MiB);

const ROWS: BadRequest[] = [
  {
    name: "a 10 MB submit body",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ run: long(10 * MiB) }),
    status: 413,
    field: "(body)",
    message: /at most 262144 bytes/,
  },
  {
    name: "a 500 KB env",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ env: { BIG: long(500_000) } }),
    status: 413,
    field: "(body)",
    message: /at most/,
  },
  {
    name: "an env value over its limit",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ env: { BIG: long(LIMITS.envValueChars + 1) } }),
    status: 400,
    field: "env.BIG",
    message: /32768/,
  },
  {
    name: "more env variables than allowed",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({
      env: Object.fromEntries(
        Array.from({ length: LIMITS.envVars + 1 }, (_, index) => [`V${index}`, ""]),
      ),
    }),
    status: 400,
    field: "env",
    message: /at most 256 variables/,
  },
  {
    name: "a spec over its size in fields each within theirs",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ run: long(LIMITS.scriptChars), setup: long(LIMITS.scriptChars) }),
    status: 400,
    field: "(spec)",
    message: /at most 128 KiB/,
  },
  {
    name: "a run script over its limit",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ run: long(LIMITS.scriptChars + 1) }),
    status: 400,
    field: "run",
    message: /65536/,
  },
  {
    name: "an input url over its limit",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ inputs: [{ url: `https://data.example/${long(LIMITS.urlChars)}`, path: "d" }] }),
    status: 400,
    field: "inputs.0.url",
    message: /2048/,
  },
  {
    name: "an instance type the compute does not offer",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ instance: { types: ["local", "p5.48xlarge-bogus"] } }),
    status: 400,
    field: "instance.types.1",
    message: /p5\.48xlarge-bogus is not offered here; offered: local/,
  },
  {
    name: "a body that is not JSON",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: '{"name": "bad",',
    status: 400,
    field: "(body)",
    message: /JSON/,
  },
  {
    name: "a report nesting deeper than any message",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/succeed",
    body: `{"taskToken":"t","output":{"a":${'{"a":'.repeat(40_000)}1${"}".repeat(40_000)}}}`,
    status: 400,
    field: "(body)",
    message: /nests deeper than 32 levels/,
  },
  {
    name: "a 10 KB Idempotency-Key",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    headers: { "idempotency-key": long(10_000) },
    body: spec({}),
    status: 400,
    field: "Idempotency-Key",
    message: /1-255 printable ASCII/,
  },
  {
    name: "a 3,000-character job id",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${long(3000)}`,
    status: 400,
    field: "path",
    message: /3000 characters; at most 255/,
  },
  {
    name: "a 3,000-character job id to cancel",
    audience: "user",
    method: "POST",
    path: `/v1/jobs/${long(3000)}/cancel`,
    status: 400,
    field: "path",
    message: /at most 255/,
  },
  {
    name: "a 3,000-character model name",
    audience: "user",
    method: "POST",
    path: `/v1/deployments/${long(3000)}/complete`,
    status: 400,
    field: "path",
    message: /at most 255/,
  },
  {
    name: "a malformed percent escape in a job id",
    audience: "user",
    method: "GET",
    path: "/v1/jobs/job-%E0%A4%A",
    status: 400,
    field: "path",
    message: /malformed percent escape/,
  },
  {
    name: "a malformed percent escape in an output path",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${JOB}/outputs/results/%zz`,
    status: 400,
    field: "path",
    message: /malformed percent escape/,
  },
  {
    name: "a cursor over its limit",
    audience: "user",
    method: "GET",
    path: `/v1/jobs?cursor=${long(LIMITS.cursorChars + 1)}`,
    status: 400,
    field: "cursor",
    message: /1024/,
  },
  {
    name: "a malformed percent escape in a query",
    audience: "user",
    method: "GET",
    path: "/v1/jobs?cursor=%E0%A4%A",
    status: 400,
    field: "cursor",
    message: /not a cursor this listing handed out/,
  },
  {
    name: "a log stream that is not one, reaching for another file",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${JOB}/logs?stream=../../inputs/x`,
    status: 400,
    field: "stream",
    message: /stdout/,
  },
  {
    name: "a log offset that is negative",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${JOB}/logs?offset=-1`,
    status: 400,
    field: "offset",
    message: /decimal digits/,
  },
  {
    name: "a log offset in hexadecimal",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${JOB}/logs?offset=0x10`,
    status: 400,
    field: "offset",
    message: /decimal digits/,
  },
  {
    name: "a replay's description with an escape sequence for its reviewer's terminal",
    audience: "user",
    method: "POST",
    path: `/v1/jobs/${JOB}/replay`,
    body: { description: "\x1b]52;c;cm0gLXJm\x07" },
    status: 400,
    field: "description",
    message: /control characters/,
  },
  {
    name: "a log offset past what a number holds",
    audience: "user",
    method: "GET",
    path: `/v1/jobs/${JOB}/logs?offset=${"9".repeat(400)}`,
    status: 400,
    field: "offset",
    message: /./,
  },
  {
    name: "a review that is not JSON",
    audience: "user",
    method: "POST",
    path: `/v1/jobs/${JOB}/review`,
    body: "approve",
    status: 400,
    field: "(body)",
    message: /JSON/,
  },
  {
    name: "10 MB of input",
    audience: "user",
    method: "PUT",
    path: `/v1/artifacts/inputs/${sha256(tenMiB)}`,
    body: tenMiB,
    status: 413,
    field: "(body)",
    message: /at most 4194304 bytes/,
  },
  {
    name: "an input named by something other than a SHA-256",
    audience: "user",
    method: "POST",
    path: "/v1/inputs",
    body: { sha256: "not-a-sha", size: 4 },
    status: 400,
    field: "sha256",
    message: /64 lowercase hex digits/,
  },
  {
    name: "an input whose content is not what its name says",
    audience: "user",
    method: "PUT",
    path: `/v1/artifacts/inputs/${sha256(new TextEncoder().encode("other"))}`,
    headers: { [CHECKSUM_HEADER]: checksumOf(sha256(new TextEncoder().encode("other"))) },
    body: "data",
    status: 400,
    field: CHECKSUM_HEADER,
    message: /the body's sha256 is/,
  },
  {
    name: "an input sent without its checksum",
    audience: "user",
    method: "PUT",
    path: `/v1/artifacts/inputs/${sha256(new TextEncoder().encode("data"))}`,
    body: "data",
    status: 400,
    field: CHECKSUM_HEADER,
    message: /SHA-256 in base64/,
  },
  {
    name: "a job naming an input never uploaded",
    audience: "user",
    method: "POST",
    path: "/v1/jobs",
    body: spec({ inputs: [{ sha256: "0".repeat(64), path: "d" }] }),
    status: 400,
    field: "inputs.0.sha256",
    message: /no input with this sha256 was uploaded/,
  },
  {
    name: "result uploads for a path leaving the job's results",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/results`,
    body: { files: [{ path: "../other/x", size: 1, sha256: "0".repeat(64) }] },
    status: 400,
    field: "files.0.path",
    message: /relative path/,
  },
  {
    name: "result uploads for more files than a batch",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/results`,
    body: {
      files: Array.from({ length: 101 }, (_, n) => ({
        path: `r/${n}`,
        size: 1,
        sha256: "0".repeat(64),
      })),
    },
    status: 400,
    field: "files",
    message: /100/,
  },
  {
    name: "a timeline report with a start that is not a date",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/timeline`,
    body: { phase: "Model Training", startedAt: "not a date" },
    status: 400,
    field: "startedAt",
    message: /datetime/,
  },
  {
    name: "a timeline report with an end that is not a date",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/timeline`,
    body: { phase: "Model Training", startedAt: AT, endedAt: "tomorrow" },
    status: 400,
    field: "endedAt",
    message: /datetime/,
  },
  {
    name: "a timeline period that ends before it starts",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/timeline`,
    body: { phase: "Model Training", startedAt: AT, endedAt: "2025-12-31T23:59:59Z" },
    status: 400,
    field: "endedAt",
    message: /not be before startedAt/,
  },
  {
    name: "a timeline report that is not JSON",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/timeline`,
    body: "{",
    status: 400,
    field: "(body)",
    message: /JSON/,
  },
  {
    name: "a 3,000-character job id in an agent's path",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${long(3000)}/timeline`,
    body: { phase: "Model Training", startedAt: AT },
    status: 400,
    field: "path",
    message: /at most 255/,
  },
  {
    name: "a report over the body limit",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/succeed",
    body: { taskToken: "t", output: { files: long(LIMITS.jsonBodyBytes) } },
    status: 413,
    field: "(body)",
    message: /at most 262144 bytes/,
  },
  {
    name: "a 10 KB task token",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/succeed",
    body: { taskToken: long(10_000), output: {} },
    status: 400,
    field: "taskToken",
    message: /4096/,
  },
  {
    name: "an empty task token",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/heartbeat",
    body: { taskToken: "" },
    status: 400,
    field: "taskToken",
    message: />=1/,
  },
  {
    name: "a task token naming a job id too long for a key",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/succeed",
    body: { taskToken: sealed({ jobId: long(2500), step: "run", taskToken: "t" }), output: {} },
    status: 409,
    field: "",
    message: /taskToken: not a token this control plane handed out/,
  },
  {
    name: "a failure cause over its limit",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/fail",
    body: { taskToken: "t", error: "gpuctl.RunFailed", cause: long(LIMITS.causeChars + 1) },
    status: 400,
    field: "cause",
    message: /32768/,
  },
  {
    name: "a failure's error name over its limit",
    audience: "agent",
    method: "POST",
    path: "/agent/v1/tasks/fail",
    body: { taskToken: "t", error: long(LIMITS.errorChars + 1), cause: "" },
    status: 400,
    field: "error",
    message: /256/,
  },
  {
    name: "a poll with more env hashes than allowed",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/instances/${INSTANCE}/poll`,
    body: { envHashes: Array.from({ length: LIMITS.envHashes + 1 }, () => "e"), waitS: 0 },
    status: 400,
    field: "envHashes",
    message: /1024/,
  },
  {
    name: "an endpoint that is not a URL",
    audience: "agent",
    method: "POST",
    path: `/agent/v1/jobs/${JOB}/endpoint`,
    body: { url: "not a url" },
    status: 400,
    field: "url",
    message: /URL/,
  },
  {
    name: "a malformed percent escape in an artifact path",
    audience: "agent",
    method: "GET",
    path: `/agent/v1/artifacts/jobs/${JOB}/%E0%A4%A`,
    status: 400,
    field: "path",
    message: /malformed percent escape/,
  },
];

/** A valid value for each path parameter a route names: a row makes only its own part bad. */
const GOOD_PARAMS: Record<string, string> = {
  id: JOB,
  jobId: JOB,
  instanceId: INSTANCE,
  tokenId: "tok12345",
  email: "ada@example.org",
  modelName: "model",
  sha256: "0".repeat(64),
  path: "results/model.json",
};

/** The route's path with valid parameters, but for those given (sent as they are). */
const pathOf = (route: ApiRoute, bad: Record<string, string> = {}) =>
  route.path.replace(
    /\{(\w+)\}/g,
    (_, name: string) => bad[name] ?? encodeURIComponent(GOOD_PARAMS[name] ?? "x"),
  );

/** A value of another type than `schema` takes, so a row sending it is refused for its type. */
const wrongTypeFor = (schema: z.ZodType) => {
  const wrong = [12345, "text", true, [1], { nested: true }, null].find(
    (value) => !schema.safeParse(value).success,
  );
  // Left out of the body, it would be refused as missing: no test of its type at all.
  if (wrong === undefined) throw new Error("a field that takes every value has no wrong type");
  return wrong;
};

const ANY_FIELD = /./;

/**
 * The bad requests each route of the contract gets, made from its entry alone: a new route
 * is covered as it is registered.
 */
const contractRows = (route: ApiRoute): BadRequest[] => {
  const base = {
    audience: route.audience === "agent" ? "agent" : "user",
    method: route.method.toUpperCase(),
    path: pathOf(route),
  } as const;
  const as = route.operationId;
  const named = (
    field: string,
    rest: Omit<BadRequest, keyof typeof base | "field" | "status" | "message"> &
      Partial<BadRequest>,
  ): BadRequest => ({
    ...base,
    status: 400,
    message: ANY_FIELD,
    field,
    ...rest,
  });
  const params = Object.keys(route.params?.shape ?? {});
  const queries = Object.keys(route.query?.shape ?? {});
  const headers = Object.keys(route.headers?.shape ?? {});
  const body = route.body instanceof z.ZodObject ? route.body : undefined;
  const fields = Object.entries(body?.shape ?? {}) as Array<[string, z.ZodType]>;
  const validBody = route.body === undefined ? undefined : spec({});
  return [
    ...params.flatMap((param) => {
      const last = route.rest && route.path.endsWith(`{${param}}`);
      return [
        named("path", {
          name: `${as}: ${param} of 3,000 characters`,
          path: pathOf(route, { [param]: long(3000) }),
          message: /at most 255/,
        }),
        named(param, {
          name: `${as}: ${param} leaving its place (..%2F)`,
          path: pathOf(route, { [param]: `${last ? "results/" : ""}..%2F..%2Fsecret` }),
        }),
        named(param, {
          name: `${as}: ${param} holding a NUL`,
          path: pathOf(route, { [param]: "a%00b" }),
        }),
      ];
    }),
    named("unknown", {
      name: `${as}: a query parameter it does not know`,
      path: `${base.path}?unknown=1`,
      message: /not a known field/,
    }),
    ...queries.map((query) =>
      named(query, {
        name: `${as}: a 2,000-character ${query}`,
        path: `${base.path}?${query}=${long(2000)}`,
      }),
    ),
    ...headers.map((header) =>
      named(header, {
        name: `${as}: a 10 KB ${header} header`,
        headers: { [header]: long(10_000) },
        ...(validBody === undefined ? {} : { body: validBody }),
      }),
    ),
    ...(route.body
      ? [
          named("(body)", {
            name: `${as}: a body that is not JSON`,
            body: '{"unfinished": ',
            message: /JSON/,
          }),
          named("(body)", {
            name: `${as}: a body over its limit`,
            body: { padding: long(LIMITS.jsonBodyBytes) },
            status: 413,
            message: /at most/,
          }),
          named("unknownField", {
            name: `${as}: a field it does not know`,
            body: { unknownField: 1 },
            message: /not a known field/,
          }),
        ]
      : []),
    ...fields.flatMap(([field, schema]) => [
      named(field, {
        name: `${as}: ${field} of the wrong type`,
        body: { [field]: wrongTypeFor(schema) },
      }),
      named(field, {
        name: `${as}: a 100 KB ${field}`,
        body: { [field]: long(100_000) },
      }),
    ]),
    ...(route.upload
      ? [
          named("(body)", {
            name: `${as}: an upload over its limit`,
            body: new Uint8Array(LIMITS[route.upload] + 1),
            status: 413,
            message: /at most/,
          }),
        ]
      : []),
    // fetch sends no body with a GET.
    ...(route.body || route.upload || route.method === "get"
      ? []
      : [
          named("(body)", {
            name: `${as}: a body where it takes none`,
            body: { decision: "approve" },
            message: /takes no body/,
          }),
        ]),
  ];
};

const CONTRACT_ROWS = API_ROUTES.flatMap(contractRows);

const ENDLESS_BYTES = 64 * MiB;

/** Sends a body of undeclared length (chunked) that would go on for ENDLESS_BYTES. */
const sendEndless = async (
  path: string,
  method: string,
  audience: Audience,
  headers: Record<string, string> = {},
) => {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= ENDLESS_BYTES) return controller.close();
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const response = await fetch(`${plane.endpoint}${path}`, {
    method,
    headers: { ...credentials(audience, path), ...headers },
    body,
    duplex: "half",
  } as RequestInit);
  return { response, pulled: () => pulled };
};

describe("bad input gets a 4xx at once and writes nothing", () => {
  it.each([...ROWS, ...CONTRACT_ROWS])("$name: $status", async (row) => {
    const before = await snapshot();
    const answer = row.status === 413 ? await declare(row, byteLength(row.body)) : await send(row);
    expect(answer.status).toBe(row.status);
    const fields = answer.body.error.fields ?? [];
    if (row.field) {
      expect(fields).toContainEqual({
        field: row.field,
        message: expect.stringMatching(row.message),
      });
    } else {
      expect(answer.body.error.message).toMatch(row.message);
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ["/v1/jobs", "POST", "user", LIMITS.jsonBodyBytes],
    [`/v1/artifacts/inputs/${"0".repeat(64)}`, "PUT", "user", LIMITS.inputBytes],
    [`/agent/v1/artifacts/jobs/${JOB}/results/model.bin`, "PUT", "agent", LIMITS.resultFileBytes],
    ["/agent/v1/tasks/succeed", "POST", "agent", LIMITS.jsonBodyBytes],
  ] as const)(
    "%s %s answers 413 on its declared length alone, before any byte of it",
    async (path, method, audience, limit) => {
      const before = await snapshot();
      const answer = await declare({ path, method, audience }, limit + 1);
      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toBe("TOO_LARGE");
      expect(await snapshot()).toEqual(before);
    },
  );

  it.each([
    ["/v1/jobs", "POST", "user"],
    ["/agent/v1/tasks/succeed", "POST", "agent"],
  ] as const)(
    "%s %s stops reading a body of undeclared length at its limit",
    async (path, method, audience) => {
      const before = await snapshot();
      const { response, pulled } = await sendEndless(path, method, audience);
      expect(response.status).toBe(413);
      expect(((await response.json()) as ApiError).error.code).toBe("TOO_LARGE");
      expect(pulled()).toBeLessThan(ENDLESS_BYTES);
      expect(await snapshot()).toEqual(before);
    },
  );

  it("refuses an upload of undeclared length before reading it, as S3 does", async () => {
    const before = await snapshot();
    const path = `/v1/artifacts/inputs/${"0".repeat(64)}`;
    const { response, pulled } = await sendEndless(path, "PUT", "user", {
      [CHECKSUM_HEADER]: checksumOf("0".repeat(64)),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ApiError).error.fields).toContainEqual({
      field: "content-length",
      message: expect.stringMatching(/required/),
    });
    expect(pulled()).toBeLessThan(ENDLESS_BYTES);
    expect(await snapshot()).toEqual(before);
  });

  it("has the SDK refuse what the API would, as the API says it, without sending it", async () => {
    const sent = requests;
    for (const attempt of [
      () => plane.client.uploadInput(tenMiB),
      () => plane.client.submitJob(trainingSpec({ run: long(LIMITS.jsonBodyBytes) })),
    ]) {
      const error = await attempt().catch((error: unknown) => error);
      expect(error).toBeInstanceOf(ApiRequestError);
      expect(error).toMatchObject({ status: 413, code: "TOO_LARGE" });
    }
    expect(requests).toBe(sent);
    const server = await send({
      audience: "user",
      method: "POST",
      path: "/v1/inputs",
      body: { sha256: sha256(tenMiB), size: tenMiB.byteLength },
    });
    expect(
      await plane.client.uploadInput(tenMiB).catch((error: ApiRequestError) => error.body),
    ).toEqual(server.body);
  });

  it("has gpuctl say what the server refused, and why", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuctl-bad-input-"));
    const cli = (file: string) =>
      gpuctl(["submit", "-f", join(dir, file)], {
        endpoint: plane.endpoint,
        env: { GPUCTL_TOKEN: plane.userToken },
      });
    try {
      await writeFile(join(dir, "data.bin"), tenMiB);
      await writeFile(
        join(dir, "big.yaml"),
        "name: big\ninstance: { types: [local] }\nrun: 'true'\ninputs: [{ file: data.bin, path: d }]\n",
      );
      await writeFile(
        join(dir, "bogus.yaml"),
        "name: bogus\ninstance: { types: [p5.48xlarge-bogus] }\nrun: 'true'\n",
      );
      const before = await snapshot();
      expect(await cli("big.yaml")).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/^gpuctl: the body is larger than 4 MiB: give larger data/),
      });
      expect(await cli("bogus.yaml")).toMatchObject({
        code: 1,
        stderr: expect.stringContaining(
          "instance.types.0: p5.48xlarge-bogus is not offered here; offered: local",
        ),
      });
      expect(await snapshot()).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes the same requests when they are valid (the rows fail for their stated reason)", async () => {
    const content = new TextEncoder().encode("data");
    expect(
      await send({
        audience: "user",
        method: "PUT",
        path: `/v1/artifacts/inputs/${sha256(content)}`,
        headers: { [CHECKSUM_HEADER]: checksumOf(sha256(content)) },
        body: content,
      }),
    ).toMatchObject({ status: 201 });
    const report = { phase: "Model Training", startedAt: AT, endedAt: AT };
    const path = `/agent/v1/jobs/${JOB}/timeline`;
    expect((await send({ audience: "agent", method: "POST", path, body: report })).status).toBe(
      204,
    );
  });
});
