import { Hono } from "hono";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { type AgentEnv, notYours, runsOnCaller } from "./agent-access.ts";
import { invalid, notFound } from "./responses.ts";

/** Artifacts in a local folder, as the local control plane serves them to agents. */
export interface LocalArtifactStore {
  read(key: string[]): Promise<Uint8Array | undefined>;
  /** Streams a result file to its place; false when the key names no place a job's results may go. */
  write(key: string[], content: ReadableStream<Uint8Array> | null): Promise<boolean>;
}

/**
 * The URLs agents fetch inputs from and upload results to when artifacts live in a local
 * folder (on AWS they are presigned S3 URLs). Mounted under the agent routes, whose token
 * check names the calling instance.
 */
export const localArtifactRoutes = (cp: ControlPlane, artifacts: LocalArtifactStore) => {
  const router = new Hono<AgentEnv>();
  const keyOf = (path: string) =>
    path
      .replace(/^.*?\/artifacts\//, "")
      .split("/")
      .map(decodeURIComponent);
  /** Inputs are content-addressed and open to any agent; a job's results only to the agent running it. */
  const mayUse = async (key: string[], instance: string) =>
    key[0] === "inputs" ||
    (key[0] === "jobs" && key[1] !== undefined && (await runsOnCaller(cp, key[1], instance)));

  router.get("/*", async (c) => {
    const key = keyOf(c.req.path);
    if (!(await mayUse(key, c.get("instance")))) return notYours(key.join("/"));
    const bytes = await artifacts.read(key);
    return bytes ? c.body(new Uint8Array(bytes), 200) : notFound("no such artifact");
  });

  router.put("/jobs/*", async (c) => {
    const key = keyOf(c.req.path);
    if (!(await mayUse(key, c.get("instance")))) return notYours(key.join("/"));
    const written = await artifacts.write(key, c.req.raw.body);
    if (written) return c.body(null, 201);
    return invalid("not a place for a job's results", [
      { field: "path", message: "must be jobs/<jobId>/<file>" },
    ]);
  });

  return router;
};
