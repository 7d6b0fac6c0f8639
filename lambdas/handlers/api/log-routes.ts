import { Hono } from "hono";
import { LogQuery } from "../../../sdk/contract/schemas.ts";
import { LOG_CHUNK_BYTES, logChunk, logPath, logsFinal } from "../../domain/logs.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import { ownJob } from "../../use-cases/job-access.ts";
import { fieldsOf, invalid, notFound } from "./responses.ts";
import type { UserEnv } from "./user-identity.ts";

/**
 * A job's logs for its owner, a chunk at a time from a byte offset, while the job runs (the
 * agent uploads them as they grow) and after it ended. Another user's job answers as one
 * that does not exist.
 */
export const logRoutes = (cp: Ports<"jobs" | "artifacts" | "clock">) => {
  const router = new Hono<UserEnv>();

  router.get("/jobs/:id/logs", async (c) => {
    const query = LogQuery.safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const jobId = c.req.param("id");
    const record = await ownJob(cp, c.get("caller"), jobId);
    if (!record) return notFound(`job ${jobId} not found`);
    const { stream, offset } = query.data;
    // Whether the job is final is read before the bytes: a log read after it ended is whole.
    const final = logsFinal({ phase: record.job.phase, endedAt: record.updatedAt }, cp.clock.now());
    const read = await cp.artifacts.readResult(jobId, logPath(stream), {
      offset,
      length: LOG_CHUNK_BYTES,
    });
    return c.json({ stream, ...logChunk({ ...read, offset }, final) });
  });

  return router;
};
