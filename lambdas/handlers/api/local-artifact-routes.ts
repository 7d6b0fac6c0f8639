import { Hono } from "hono";
import { isTerminal } from "../../domain/phases.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import {
  type AgentCaller,
  type AgentEnv,
  assignedJob,
  forbidden,
  notYours,
} from "./agent-access.ts";
import { invalid, notFound } from "./responses.ts";

/**
 * How long after its job ended an agent may still add log files: an aborted run's logs are
 * uploaded once its processes are gone, and cancel or a timeout ends the job meanwhile.
 */
export const LATE_LOGS_MS = 60_000;

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
  /**
   * Inputs are content-addressed and open to the agent of any running job; a job's results
   * only to the agent of that job's current attempt while it runs.
   */
  const mayRead = async (key: string[], caller: AgentCaller) => {
    if (!("assignment" in caller)) return false;
    const jobId = key[0] === "inputs" ? caller.assignment.jobId : key[0] === "jobs" && key[1];
    return typeof jobId === "string" && (await assignedJob(cp, caller, jobId)) !== undefined;
  };

  /** Why a result may not be written, or undefined: once a job has ended, its results stay as they are. */
  const writeRefusal = async (key: string[], caller: AgentCaller) => {
    const assigned = await assignedJob(cp, caller, key[1] ?? "", "included");
    if (!assigned) return notYours(key.join("/"));
    const { job, updatedAt } = assigned.record;
    if (!isTerminal(job.phase)) return undefined;
    const lateLog =
      key[2] === "logs" &&
      Date.parse(cp.clock.now()) - Date.parse(updatedAt) <= LATE_LOGS_MS &&
      (await artifacts.read(key)) === undefined;
    return lateLog ? undefined : forbidden(`job ${job.id} has ended: its results cannot change`);
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
