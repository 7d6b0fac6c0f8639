/**
 * Inputs are their uploader's: through the real API, on DynamoDB Local and a local artifacts
 * folder, another user who announces the same content is told to upload it (no "stored"
 * answer that would confirm someone holds a file), and a job naming another user's hash is
 * refused at submit as not uploaded. The uploader's own reuse still skips the upload.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsArtifacts } from "../../../lambdas/adapters/local/fs-artifacts.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import { CHECKSUM_HEADER, checksumOf } from "../../../lambdas/domain/artifacts.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const NOW = "2026-01-01T00:10:00.000Z";
const CONTENT = Buffer.from("ada's private weights");
const SHA256 = createHash("sha256").update(CONTENT).digest("hex");
const SPEC = {
  name: "train",
  instance: { types: ["g5.xlarge"] },
  run: "python3 train.py",
  inputs: [{ sha256: SHA256, path: "weights.bin" }],
};

let api: ReturnType<typeof createApi>;
let people: { ada: TestUser; grace: TestUser };
let root: string;

beforeAll(async () => {
  const stores = await freshStores();
  root = await mkdtemp(join(tmpdir(), "gpuctl-input-isolation-"));
  const artifacts = new FsArtifacts(root, "http://127.0.0.1");
  const cp = {
    ...stores.at(NOW),
    commands: new MemoryCommandQueue(),
    compute: { instanceTypes: async () => ["g5.xlarge"] },
    workflows: { start: async () => ({ executionId: "e" }) },
    artifacts,
    settings: {
      ...stores.at(NOW).settings,
      region: "local",
      agent: { endpoint: "http://127.0.0.1", secret: "s" },
    },
  } as unknown as ControlPlane;
  const made = testUsers(cp);
  people = { ada: await made.add("ada@example.org"), grace: await made.add("grace@example.org") };
  api = createApi(cp, { localArtifacts: artifacts });
});
afterAll(() => rm(root, { recursive: true, force: true }));

const call = (
  user: keyof typeof people,
  method: string,
  path: string,
  body: string | Buffer,
  headers = {},
) =>
  api.request(path, {
    method,
    headers: { authorization: `Bearer ${people[user].token}`, ...headers },
    body,
  });

const announce = async (user: keyof typeof people) => {
  const response = await call(
    user,
    "POST",
    "/v1/inputs",
    JSON.stringify({ sha256: SHA256, size: CONTENT.byteLength }),
    { "content-type": "application/json" },
  );
  expect(response.status).toBe(200);
  return (await response.json()) as { stored: boolean; upload?: { url: string } };
};

const upload = async (user: keyof typeof people, url: string) => {
  const response = await call(user, "PUT", new URL(url).pathname, CONTENT, {
    [CHECKSUM_HEADER]: checksumOf(SHA256),
    "content-length": String(CONTENT.byteLength),
  });
  expect(response.status).toBe(201);
};

const submit = (user: keyof typeof people) =>
  call(user, "POST", "/v1/jobs", JSON.stringify(SPEC), { "content-type": "application/json" });

describe("inputs are their uploader's", () => {
  it("tells another user nothing of an input, refuses their job naming its hash, and dedupes the owner's reuse", async () => {
    const first = await announce("ada");
    expect(first.stored).toBe(false);
    await upload("ada", first.upload?.url ?? "");
    expect(await announce("ada")).toMatchObject({ stored: true });
    expect((await submit("ada")).status).toBe(201);

    expect(await announce("grace")).toMatchObject({ stored: false });
    const refused = await submit("grace");
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: {
        code: "VALIDATION",
        fields: [{ field: "inputs.0.sha256", message: "no input with this sha256 was uploaded" }],
      },
    });

    // Grace's own upload of the same bytes is hers; it changes nothing of Ada's.
    const graces = await announce("grace");
    await upload("grace", graces.upload?.url ?? "");
    expect(await announce("grace")).toMatchObject({ stored: true });
    expect((await submit("grace")).status).toBe(201);
    expect(await announce("ada")).toMatchObject({ stored: true });
  });
});
