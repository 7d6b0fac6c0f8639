import { createHash } from "node:crypto";
/**
 * What the agent routes let each credential do, on the real API over DynamoDB Local: an
 * instance token (locally) or an instance role session (IAM, on AWS) proves the instance,
 * which polls its own open instance and nothing else; an assignment credential of that
 * instance opens its own job's attempt while it runs, and nothing of any other job.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_HEADERS } from "../../../agent/protocol.ts";
import { FsArtifacts } from "../../../lambdas/adapters/local/fs-artifacts.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import { CHECKSUM_HEADER, checksumOf, inputKey } from "../../../lambdas/domain/artifacts.ts";
import type { Instance } from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { JobRecord } from "../../../lambdas/ports.ts";
import {
  type Assignment,
  agentAccess,
  assignmentCredential,
} from "../../../lambdas/use-cases/agent-identity.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores, newRecord } from "../stores.ts";

/** An input, named by its content as every input is. */
const INPUT = createHash("sha256").update("input").digest("hex");
/** An input of ada's that her running job does not name. */
const UNNAMED = createHash("sha256").update("unnamed").digest("hex");
/** An input the running job names, which only bob uploaded. */
const BOBS = createHash("sha256").update("bob's").digest("hex");

const SECRET = "agent-secret";
const NOW = "2026-01-01T00:10:00.000Z";
/** Ended a moment ago: its agent may still add the logs it was uploading. */
const JUST_NOW = "2026-01-01T00:09:50.000Z";
const LONG_AGO = "2026-01-01T00:00:00.000Z";
const SERVE = { host: "127.0.0.1", port: 18_080 };

let api: ReturnType<typeof createApi>;
let iamApi: ReturnType<typeof createApi>;
const AGENT_ROLE = "gpuctl-agent";
const EC2_ID = "i-0123456789abcdef0";
const OTHER_EC2_ID = "i-0fedcba9876543210";
let artifacts: FsArtifacts;
let root: string;

const instance = (id: string, state: Partial<Instance>): Instance =>
  ({
    id,
    pool: { instanceType: "local", envHash: "e", region: "local", owner: "ada" },
    spot: false,
    coolingEpoch: 0,
    version: 1,
    ...state,
  }) as Instance;

const job = (id: string, fields: Partial<Job>, record: Partial<JobRecord> = {}): JobRecord => {
  const base = newRecord({ id, kind: fields.kind ?? "training" });
  return { ...base, job: { ...base.job, instanceId: "i-open", ...fields }, ...record };
};

/** What a request proves: its instance (a bearer instance token) and a job's assignment. */
interface Proof {
  token?: string;
  assignment?: string;
}

const assignment = (jobId: string, fields: Partial<Assignment> = {}) =>
  assignmentCredential(SECRET, {
    instanceId: "i-open",
    jobId,
    attempt: 1,
    requeues: 0,
    ...fields,
  });
const tokenOf = (instanceId: string) =>
  agentAccess({ settings: { agent: { endpoint: "", secret: SECRET } } } as ControlPlane, instanceId)
    .token;
const instanceToken = (instanceId: string): Proof => ({ token: tokenOf(instanceId) });
/** The credential of a job's first attempt on i-open, or as `fields` change it, sent by its instance. */
const credential = (jobId: string, fields: Partial<Assignment> = {}): Proof => ({
  token: tokenOf(fields.instanceId ?? "i-open"),
  assignment: assignment(jobId, fields),
});

beforeAll(async () => {
  const stores = await freshStores();
  root = await mkdtemp(join(tmpdir(), "gpuctl-api-access-"));
  artifacts = new FsArtifacts(root, "http://127.0.0.1");
  const commands = new MemoryCommandQueue();
  const cp = {
    ...stores.at(NOW),
    commands,
    artifacts,
    workflows: {
      sendTaskSuccess: async () => {},
      sendTaskFailure: async () => {},
      sendTaskHeartbeat: async () => {},
    },
    settings: { region: "local", agent: { endpoint: "http://127.0.0.1", secret: SECRET } },
  } as unknown as ControlPlane;
  await stores.instances.create(instance("i-open", { status: "EXECUTING", jobId: "running" }), NOW);
  await stores.instances.create(
    instance("i-closed", { status: "CLOSED", substatus: "STOPPED" }),
    NOW,
  );
  const spec = newRecord({ id: "serving", kind: "inference" }).spec;
  for (const record of [
    job(
      "running",
      { phase: "TRAINING" },
      {
        spec: {
          ...spec,
          kind: "training",
          inputs: [
            { sha256: INPUT, path: "input" },
            { sha256: BOBS, path: "bobs" },
          ],
        },
      },
    ),
    job("retried", { phase: "TRAINING", attempt: 2 }),
    job("ended", { phase: "COMPLETED" }, { updatedAt: LONG_AGO }),
    job("canceled", { phase: "CANCELED" }, { updatedAt: JUST_NOW }),
    job(
      "serving",
      { phase: "TRAINING", kind: "inference" },
      { spec: { ...spec, serve: { port: 8808, healthPath: "/" } } },
    ),
  ])
    await stores.jobs.submit({ record });
  const store = async (key: string[], text: string) =>
    expect(await artifacts.write(key, new Response(text).body, announce(text))).toEqual({
      ok: true,
    });
  await store(["jobs", "ended", "results", "model.json"], '{"loss":1}');
  await store(["jobs", "canceled", "results", "model.json"], "{}");
  await store(inputKey("ada", INPUT).split("/"), "input");
  await store(inputKey("ada", UNNAMED).split("/"), "unnamed");
  await store(inputKey("bob", BOBS).split("/"), "bob's");
  api = createApi(cp, {
    polledCommands: commands,
    localArtifacts: artifacts,
  });
  iamApi = createApi(cp, { agentRole: AGENT_ROLE });
  await stores.instances.create(
    instance("gi-iam", { status: "EXECUTING", jobId: "iam-running", providerId: EC2_ID }),
    NOW,
  );
  await stores.instances.create(
    instance("gi-iam-other", { status: "EXECUTING", jobId: "x", providerId: OTHER_EC2_ID }),
    NOW,
  );
  await stores.jobs.submit({
    record: job("iam-running", { phase: "TRAINING", instanceId: "gi-iam" }),
  });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const announce = (text: string) => ({
  size: Buffer.byteLength(text),
  sha256: createHash("sha256").update(text).digest("hex"),
});

/** A request as the agent sends it: a PUT's body with its length and checksum, as S3 takes it. */
const call = (proof: Proof, method: string, path: string, body?: unknown) => {
  const text = body === undefined || typeof body === "string" ? body : JSON.stringify(body);
  const upload =
    method === "PUT" && text !== undefined
      ? {
          "content-length": String(Buffer.byteLength(text)),
          [CHECKSUM_HEADER]: checksumOf(announce(text).sha256),
        }
      : {};
  return api.request(path, {
    method,
    headers: {
      ...(proof.token ? { authorization: `Bearer ${proof.token}` } : {}),
      ...(proof.assignment ? { [AGENT_HEADERS.assignment]: proof.assignment } : {}),
      "content-type": "application/json",
      ...upload,
    },
    ...(text === undefined ? {} : { body: text }),
  });
};
const results = (...paths: string[]) => ({
  files: paths.map((path) => ({ path, ...announce(bytes) })),
});
const poll = { envHashes: [], waitS: 0 };
const period = { phase: "Model Training", startedAt: NOW };
const endpoint = (url: string) => ({ url });
const bytes = "tampered";
const forged = {
  token: tokenOf("i-open"),
  assignment: `${assignment("running").slice(0, -4)}AAAA`,
};

describe("agent credentials", () => {
  it.each([
    [
      "an open instance's token polls its mailbox",
      instanceToken("i-open"),
      "POST",
      "/agent/v1/instances/i-open/poll",
      poll,
      204,
    ],
    [
      "a closed instance's token opens nothing",
      instanceToken("i-closed"),
      "POST",
      "/agent/v1/instances/i-closed/poll",
      poll,
      403,
    ],
    [
      "an instance token polls no other mailbox",
      instanceToken("i-open"),
      "POST",
      "/agent/v1/instances/i-closed/poll",
      poll,
      403,
    ],
    [
      "an assignment credential without its instance's token opens nothing",
      { assignment: assignment("running") },
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      401,
    ],
    [
      "an instance token with another instance's assignment opens nothing",
      { token: tokenOf("i-open"), assignment: assignment("running", { instanceId: "i-closed" }) },
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      403,
    ],
    [
      "a forged instance token opens nothing",
      { token: "i-open.forged", assignment: assignment("running") },
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      401,
    ],
    [
      "an instance token reports on no job",
      instanceToken("i-open"),
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      403,
    ],
    [
      "an instance token reads no input",
      instanceToken("i-open"),
      "GET",
      `/agent/v1/artifacts/inputs/${INPUT}`,
      undefined,
      403,
    ],
    [
      "an instance token reads no result",
      instanceToken("i-open"),
      "GET",
      "/agent/v1/artifacts/jobs/ended/results/model.json",
      undefined,
      403,
    ],
    [
      "a forged credential opens nothing",
      forged,
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      401,
    ],
    [
      "a running job's credential reports its timeline",
      credential("running"),
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      204,
    ],
    [
      "a running job's credential reads an input",
      credential("running"),
      "GET",
      `/agent/v1/artifacts/inputs/${INPUT}`,
      undefined,
      200,
    ],
    [
      "a running job's credential reads no input its job does not name",
      credential("running"),
      "GET",
      `/agent/v1/artifacts/inputs/${UNNAMED}`,
      undefined,
      403,
    ],
    [
      "a running job's credential reads no other owner's input, though its job names its hash",
      credential("running"),
      "GET",
      `/agent/v1/artifacts/inputs/${BOBS}`,
      undefined,
      404,
    ],
    [
      "a running job's credential writes its results",
      credential("running"),
      "PUT",
      "/agent/v1/artifacts/jobs/running/results/a.txt",
      bytes,
      201,
    ],
    [
      "a credential opens no other job's timeline",
      credential("running"),
      "POST",
      "/agent/v1/jobs/serving/timeline",
      period,
      403,
    ],
    [
      "a credential reads no other job's results",
      credential("running"),
      "GET",
      "/agent/v1/artifacts/jobs/ended/results/model.json",
      undefined,
      403,
    ],
    [
      "a credential writes no other job's results",
      credential("running"),
      "PUT",
      "/agent/v1/artifacts/jobs/ended/results/model.json",
      bytes,
      403,
    ],
    [
      "an earlier attempt's credential is dead",
      credential("retried"),
      "POST",
      "/agent/v1/jobs/retried/timeline",
      period,
      403,
    ],
    [
      "a credential for another instance is dead",
      credential("running", { instanceId: "i-closed" }),
      "POST",
      "/agent/v1/jobs/running/timeline",
      period,
      403,
    ],
    [
      "an ended job's results cannot be overwritten",
      credential("ended"),
      "PUT",
      "/agent/v1/artifacts/jobs/ended/results/model.json",
      bytes,
      403,
    ],
    [
      "an ended job takes no new result",
      credential("ended"),
      "PUT",
      "/agent/v1/artifacts/jobs/ended/results/new.json",
      bytes,
      403,
    ],
    [
      "an ended job takes no late log once its agent had time",
      credential("ended"),
      "PUT",
      "/agent/v1/artifacts/jobs/ended/logs/stdout.log",
      bytes,
      403,
    ],
    [
      "an ended job's results are not read",
      credential("ended"),
      "GET",
      "/agent/v1/artifacts/jobs/ended/results/model.json",
      undefined,
      403,
    ],
    [
      "a job that just ended takes its late logs",
      credential("canceled"),
      "PUT",
      "/agent/v1/artifacts/jobs/canceled/logs/stdout.log",
      bytes,
      201,
    ],
    [
      "a job that just ended takes no other result",
      credential("canceled"),
      "PUT",
      "/agent/v1/artifacts/jobs/canceled/results/model.json",
      bytes,
      403,
    ],
    [
      "a running job's credential gets upload URLs for its results",
      credential("running"),
      "POST",
      "/agent/v1/jobs/running/results",
      results("results/a.txt", "logs/stdout.log"),
      200,
    ],
    [
      "a credential gets no upload URL for another job's results",
      credential("running"),
      "POST",
      "/agent/v1/jobs/ended/results",
      results("results/a.txt"),
      403,
    ],
    [
      "an ended job gets no upload URL for a result",
      credential("ended"),
      "POST",
      "/agent/v1/jobs/ended/results",
      results("results/new.json"),
      403,
    ],
    [
      "a job that just ended gets upload URLs for its late logs",
      credential("canceled"),
      "POST",
      "/agent/v1/jobs/canceled/results",
      results("logs/late.log"),
      200,
    ],
    [
      "a job that just ended gets none for a late log and a result together",
      credential("canceled"),
      "POST",
      "/agent/v1/jobs/canceled/results",
      results("logs/late.log", "results/model.json"),
      403,
    ],
    [
      "an upload URL for a path leaving the results is refused",
      credential("running"),
      "POST",
      "/agent/v1/jobs/running/results",
      results("results/../../other/x"),
      400,
    ],
    [
      "an ended job's timeline is closed",
      credential("ended"),
      "POST",
      "/agent/v1/jobs/ended/timeline",
      period,
      403,
    ],
    [
      "a training job has no endpoint",
      credential("running"),
      "POST",
      "/agent/v1/jobs/running/endpoint",
      endpoint("http://evil.example/"),
      403,
    ],
    [
      "an ended job has no endpoint",
      credential("ended"),
      "POST",
      "/agent/v1/jobs/ended/endpoint",
      endpoint("http://evil.example/"),
      403,
    ],
    [
      "a credential sets no other job's endpoint",
      credential("running", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://127.0.0.1:18080"),
      403,
    ],
    [
      "an endpoint on a foreign host is refused",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://evil.example:18080"),
      400,
    ],
    [
      "an endpoint on another port is refused",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://127.0.0.1:8808"),
      400,
    ],
    [
      "an endpoint with a path is refused",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://127.0.0.1:18080/evil"),
      400,
    ],
    [
      "an endpoint of another scheme is refused",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("ftp://127.0.0.1:18080"),
      400,
    ],
    [
      "an endpoint with credentials in it is refused",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://user:pw@127.0.0.1:18080"),
      400,
    ],
    [
      "a deployment's credential without an address sets no endpoint",
      credential("serving"),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://127.0.0.1:18080"),
      403,
    ],
    [
      "a serving job's endpoint where it serves is taken",
      credential("serving", { serve: SERVE }),
      "POST",
      "/agent/v1/jobs/serving/endpoint",
      endpoint("http://127.0.0.1:18080"),
      204,
    ],
  ] as const)("%s", async (_, token, method, path, body, status) => {
    const response = await call(token, method, path, body);
    expect(response.status, await response.text()).toBe(status);
  });

  it("leaves an ended job's results as they were", async () => {
    expect(
      Buffer.from(
        (await artifacts.read(["jobs", "ended", "results", "model.json"])) ?? [],
      ).toString(),
    ).toBe('{"loss":1}');
    expect(await artifacts.listOutputs("ended")).toEqual({ items: ["results/model.json"] });
  });

  it("issues each upload URL bound to its file's size and SHA-256, in the request's order", async () => {
    const response = await call(
      credential("running"),
      "POST",
      "/agent/v1/jobs/running/results",
      results("results/b c.txt", "logs/stdout.log"),
    );
    const { uploads } = (await response.json()) as {
      uploads: Array<{ path: string; url: string; headers: Record<string, string> }>;
    };
    expect(uploads).toEqual([
      {
        path: "results/b c.txt",
        url: "http://127.0.0.1/agent/v1/artifacts/jobs/running/results/b%20c.txt",
        headers: { [CHECKSUM_HEADER]: checksumOf(announce(bytes).sha256) },
      },
      expect.objectContaining({ path: "logs/stdout.log" }),
    ]);
  });

  it("stores an upload only when it is the content its checksum names", async () => {
    const path = "/agent/v1/artifacts/jobs/running/results/checked.txt";
    const response = await api.request(path, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${credential("running").token}`,
        [AGENT_HEADERS.assignment]: credential("running").assignment ?? "",
        "content-length": "5",
        [CHECKSUM_HEADER]: checksumOf(announce("other").sha256),
      },
      body: "bytes",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { fields: [{ field: CHECKSUM_HEADER, message: expect.stringMatching(/sha256/) }] },
    });
    expect(await artifacts.read(["jobs", "running", "results", "checked.txt"])).toBeUndefined();
  });

  it("takes a just-ended job's log again: the agent's last upload replaces its live one", async () => {
    const path = "/agent/v1/artifacts/jobs/canceled/logs/stderr.log";
    expect((await call(credential("canceled"), "PUT", path, "live")).status).toBe(201);
    expect((await call(credential("canceled"), "PUT", path, "live, last")).status).toBe(201);
    expect(
      Buffer.from(
        (await artifacts.read(["jobs", "canceled", "logs", "stderr.log"])) ?? [],
      ).toString(),
    ).toBe("live, last");
  });

  it("takes a task report only with the credential of the task's own job", async () => {
    const taskToken = Buffer.from(
      JSON.stringify({ jobId: "running", step: "run", taskToken: "t" }),
    ).toString("base64url");
    const report = { taskToken, output: { exitCode: 0 } };
    for (const token of [instanceToken("i-open"), credential("serving", { serve: SERVE })]) {
      const response = await call(token, "POST", "/agent/v1/tasks/succeed", report);
      expect([403, 404]).toContain(response.status);
    }
  });
});

describe("agents on AWS, proven by the IAM authorizer", () => {
  const session = (ec2Id: string, role = AGENT_ROLE) =>
    `arn:aws:sts::123456789012:assumed-role/${role}/${ec2Id}`;
  /** A request as API Gateway hands it on once its IAM authorizer passed `userArn`. */
  const iamCall = (userArn: string, claimed: string, credential: string) =>
    iamApi.request(
      "/agent/v1/jobs/iam-running/timeline",
      {
        method: "POST",
        headers: {
          [AGENT_HEADERS.instance]: claimed,
          [AGENT_HEADERS.assignment]: credential,
          "content-type": "application/json",
        },
        body: JSON.stringify(period),
      },
      { event: { requestContext: { authorizer: { iam: { userArn } } } } },
    );
  const iamAssignment = (instanceId = "gi-iam") => assignment("iam-running", { instanceId });

  it.each([
    [
      "its own instance's session reports on its job",
      session(EC2_ID),
      "gi-iam",
      iamAssignment(),
      204,
    ],
    [
      "another instance's assignment is refused",
      session(EC2_ID),
      "gi-iam",
      iamAssignment("gi-iam-other"),
      403,
    ],
    [
      "a session claiming another gpuctl instance is refused",
      session(EC2_ID),
      "gi-iam-other",
      iamAssignment("gi-iam-other"),
      403,
    ],
    [
      "an unknown EC2 instance is refused",
      session("i-0aaaaaaaaaaaaaaaa"),
      "gi-iam",
      iamAssignment(),
      403,
    ],
    [
      "a session of another role is refused",
      session(EC2_ID, "admin"),
      "gi-iam",
      iamAssignment(),
      403,
    ],
    ["a caller without IAM context is refused", "", "gi-iam", iamAssignment(), 403],
  ] as const)("%s", async (_, userArn, claimed, credential, status) => {
    const response = await iamCall(userArn, claimed, credential);
    expect(response.status, await response.text()).toBe(status);
  });

  it("serves no poll route: agents read their own queue", async () => {
    const response = await iamApi.request(
      "/agent/v1/instances/gi-iam/poll",
      {
        method: "POST",
        headers: { [AGENT_HEADERS.instance]: "gi-iam", "content-type": "application/json" },
        body: JSON.stringify(poll),
      },
      { event: { requestContext: { authorizer: { iam: { userArn: session(EC2_ID) } } } } },
    );
    expect(response.status).toBe(404);
  });
});
