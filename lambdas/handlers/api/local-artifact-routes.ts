import { Hono } from "hono";
import { CHECKSUM_HEADER, inputKey } from "../../domain/artifacts.ts";
import type { AnnouncedFile } from "../../ports.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import { resultRefusal } from "../../use-cases/result-uploads.ts";
import {
  type AgentCaller,
  type AgentEnv,
  assignedJob,
  forbidden,
  notYours,
} from "./agent-access.ts";
import { invalid, notFound } from "./responses.ts";
import type { UserEnv } from "./user-identity.ts";

/** Artifacts in a local folder, as the local control plane serves them. */
export interface LocalArtifactStore {
  read(key: string[]): Promise<Uint8Array | undefined>;
  /** Streams an upload to its place if it is the announced bytes; else names the mismatch. */
  write(
    key: string[],
    content: ReadableStream<Uint8Array> | null,
    expected: AnnouncedFile,
  ): Promise<{ ok: true } | { ok: false; field: string; message: string }>;
}

const keyOf = (path: string) =>
  path
    .replace(/^.*?\/artifacts\//, "")
    .split("/")
    .map(decodeURIComponent);

/**
 * What a PUT announces, as a presigned S3 PUT carries it: the body's length and its
 * SHA-256 (base64) in CHECKSUM_HEADER. S3 refuses an upload without either; so do we.
 */
const announced = (
  headers: Headers,
): { ok: true; file: AnnouncedFile } | { ok: false; response: Response } => {
  const length = headers.get("content-length");
  const checksum = Buffer.from(headers.get(CHECKSUM_HEADER) ?? "", "base64");
  const fields = [
    ...(length !== null && /^\d+$/.test(length)
      ? []
      : [{ field: "content-length", message: "is required: uploads are not chunked" }]),
    ...(checksum.length === 32
      ? []
      : [{ field: CHECKSUM_HEADER, message: "must be the body's SHA-256 in base64" }]),
  ];
  if (fields.length) return { ok: false, response: invalid("bad upload headers", fields) };
  return { ok: true, file: { size: Number(length), sha256: checksum.toString("hex") } };
};

/** Streams an upload through `store.write`: 201 when stored, 400 naming what did not match. */
const put = async (
  store: LocalArtifactStore,
  key: string[],
  request: Request,
): Promise<Response> => {
  const expected = announced(request.headers);
  if (!expected.ok) return expected.response;
  const written = await store.write(key, request.body, expected.file);
  if (written.ok) return new Response(null, { status: 201 });
  return invalid("the upload does not match what it announced", [
    { field: written.field, message: written.message },
  ]);
};

/**
 * The URLs agents fetch inputs from and upload results to when artifacts live in a local
 * folder (on AWS they are presigned S3 URLs). Mounted under the agent routes, whose token
 * check names the calling instance.
 */
export const localArtifactRoutes = (
  cp: Ports<"jobs" | "artifacts" | "clock">,
  artifacts: LocalArtifactStore,
) => {
  const router = new Hono<AgentEnv>();
  /**
   * The stored key a path opens to the caller, or undefined. `inputs/<sha256>` is an input
   * of the owner of the caller's running job, which that job names; a job's results are open
   * only to the agent of that job's current attempt while it runs.
   */
  const readableKey = async (key: string[], caller: AgentCaller): Promise<string[] | undefined> => {
    if (!("assignment" in caller)) return undefined;
    const [prefix, name] = key;
    if (prefix === "inputs" && name !== undefined && key.length === 2) {
      // Every rank of a multi-node job fetches the inputs.
      const assigned = await assignedJob(cp, caller, caller.assignment.jobId, "excluded", "any");
      const named = assigned?.record.spec.inputs.some(
        (input) => "sha256" in input && input.sha256 === name,
      );
      return assigned && named ? inputKey(assigned.record.owner, name).split("/") : undefined;
    }
    const mayReadResults =
      prefix === "jobs" && name !== undefined && (await assignedJob(cp, caller, name));
    return mayReadResults ? key : undefined;
  };

  /** Why a result may not be written, or undefined when it may: checked again as it is PUT. */
  const writeRefusal = async (key: string[], caller: AgentCaller) => {
    const assigned = await assignedJob(cp, caller, key[1] ?? "", "included");
    if (!assigned) return notYours(key.join("/"));
    const refusal = resultRefusal(cp, assigned.record, key.slice(2).join("/"));
    return refusal === undefined ? undefined : forbidden(refusal);
  };

  router.get("/*", async (c) => {
    const asked = keyOf(c.req.path);
    const key = await readableKey(asked, c.get("caller"));
    if (!key) return notYours(asked.join("/"));
    const bytes = await artifacts.read(key);
    return bytes ? c.body(new Uint8Array(bytes), 200) : notFound("no such artifact");
  });

  router.put("/jobs/*", async (c) => {
    const key = keyOf(c.req.path);
    const refusal = await writeRefusal(key, c.get("caller"));
    return refusal ?? put(artifacts, key, c.req.raw);
  });

  return router;
};

/**
 * The URLs the CLI uploads inputs to and downloads its jobs' results from when artifacts
 * live in a local folder. Mounted under the user routes: the caller is a user, whose inputs
 * are stored as theirs, and a job's results are its owner's alone.
 */
export const localUserArtifactRoutes = (cp: Ports<"jobs">, artifacts: LocalArtifactStore) => {
  const router = new Hono<UserEnv>();

  router.put("/inputs/:sha256", (c) =>
    put(artifacts, inputKey(c.get("caller").userId, c.req.param("sha256")).split("/"), c.req.raw),
  );

  router.get("/jobs/:jobId/*", async (c) => {
    const key = keyOf(c.req.path);
    const record = await cp.jobs.get(c.req.param("jobId"));
    if (record?.owner !== c.get("caller").userId)
      return notFound(`job ${c.req.param("jobId")} not found`);
    const bytes = await artifacts.read(key);
    return bytes
      ? c.body(new Uint8Array(bytes), 200, { "content-type": "application/octet-stream" })
      : notFound(`output ${key.slice(2).join("/")} not found`);
  });

  return router;
};
