import { Hono } from "hono";
import { isTerminal } from "../../domain/phases.ts";
import { resultWritable } from "../../domain/results.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import {
  type AgentCaller,
  type AgentEnv,
  assignedJob,
  forbidden,
  notYours,
} from "./agent-access.ts";
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
export const localArtifactRoutes = (cp: Ports<"jobs" | "clock">, artifacts: LocalArtifactStore) => {
  const router = new Hono<AgentEnv>();
  const keyOf = (path: string) =>
    path
      .replace(/^.*?\/artifacts\//, "")
      .split("/")
      .map(decodeURIComponent);
  /**
   * Inputs are content-addressed and open to the agent of any running job; a job's results
   * only to the agent of that job's current attempt while it runs.
   */
  const mayRead = async (key: string[], caller: AgentCaller) => {
    if (!("assignment" in caller)) return false;
    const jobId = key[0] === "inputs" ? caller.assignment.jobId : key[0] === "jobs" && key[1];
    return typeof jobId === "string" && (await assignedJob(cp, caller, jobId)) !== undefined;
  };

  /** Why a result may not be written, or undefined when it may (resultWritable). */
  const writeRefusal = async (key: string[], caller: AgentCaller) => {
    const assigned = await assignedJob(cp, caller, key[1] ?? "", "included");
    if (!assigned) return notYours(key.join("/"));
    const { job, updatedAt } = assigned.record;
    // Only an ended job's files are looked at: while it runs, any may be written again.
    const exists = isTerminal(job.phase) && (await artifacts.read(key)) !== undefined;
    const file = { path: key.slice(2).join("/"), exists };
    return resultWritable({ phase: job.phase, endedAt: updatedAt }, file, cp.clock.now())
      ? undefined
      : forbidden(`job ${job.id} has ended: its results cannot change`);
  };

  router.get("/*", async (c) => {
    const key = keyOf(c.req.path);
    if (!(await mayRead(key, c.get("caller")))) return notYours(key.join("/"));
    const bytes = await artifacts.read(key);
    return bytes ? c.body(new Uint8Array(bytes), 200) : notFound("no such artifact");
  });

  router.put("/jobs/*", async (c) => {
    const key = keyOf(c.req.path);
    const refusal = await writeRefusal(key, c.get("caller"));
    if (refusal) return refusal;
    const written = await artifacts.write(key, c.req.raw.body);
    if (written) return c.body(null, 201);
    return invalid("not a place for a job's results", [
      { field: "path", message: "must be jobs/<jobId>/<file>" },
    ]);
  });

  return router;
};
