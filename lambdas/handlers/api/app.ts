import { createHash } from "node:crypto";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import {
  AGENT_API,
  EndpointReport,
  PollRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../../agent/protocol.ts";
import type { ApiError } from "../../../sdk/api-types.ts";
import { DIALECTS } from "../../domain/dialects/index.ts";
import { INSTANCE_STATUSES } from "../../domain/instance.ts";
import { inputsToUpload, parseJobSpec } from "../../domain/job-spec.ts";
import { TIMELINE_PHASES, timelinePeriods } from "../../domain/timeline.ts";
import { InvalidCursorError, UnreadableJobError } from "../../ports.ts";
import { instanceOfToken } from "../../use-cases/agent-identity.ts";
import {
  reportHeartbeat,
  reportStepFailure,
  reportStepSuccess,
} from "../../use-cases/agent-steps.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { cancelJob, completeJob, REVIEW_DECISIONS, reviewJob } from "../../use-cases/finish-job.ts";
import type { Failure } from "../../use-cases/outcome.ts";
import { submitJob } from "../../use-cases/submit-job.ts";
import { instanceView, jobEventView, jobView } from "./views.ts";

export interface ApiOptions {
  /** Bearer token users present; one user per token here (the owner of their jobs). */
  users: Record<string, string>;
  /** Serves the agent-facing artifact URLs when artifacts live in a local folder. */
  localArtifacts?: {
    read(key: string[]): Promise<Uint8Array | undefined>;
    /** False when the key names no place a job's results may go. */
    write(key: string[], bytes: Uint8Array): Promise<boolean>;
  };
}

const STATUS: Record<Failure["error"], ContentfulStatusCode> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  REFUSED: 409,
};

const errorBody = (
  code: ApiError["error"]["code"],
  message: string,
  fields?: ApiError["error"]["fields"],
): ApiError => ({
  error: { code, message, ...(fields ? { fields } : {}) },
});

const fieldsOf = (error: z.ZodError) =>
  error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));

/**
 * The control plane's HTTP API: users under /v1, instance agents under /agent/v1. Each
 * route validates its input, makes one use-case call, and maps the outcome to a status.
 */
export const createApi = (cp: ControlPlane, options: ApiOptions) => {
  const app = new Hono<{ Variables: { owner: string; instance: string } }>();
  const fail = (failure: Failure) =>
    Response.json(errorBody(failure.error, failure.message), { status: STATUS[failure.error] });
  const invalid = (message: string, fields: ApiError["error"]["fields"]) =>
    Response.json(errorBody("VALIDATION", message, fields), { status: 400 });
  const body = async (request: Request) => request.json().catch(() => undefined);

  app.onError((error) => {
    if (error instanceof UnreadableJobError) {
      const message = `${error.message}: written by a newer version, or damaged`;
      return Response.json(errorBody("INTERNAL", message), { status: 500 });
    }
    if (error instanceof InvalidCursorError)
      return invalid(error.message, [{ field: "cursor", message: error.message }]);
    console.error(error);
    return Response.json(errorBody("INTERNAL", "internal error"), { status: 500 });
  });
  app.notFound(() => Response.json(errorBody("NOT_FOUND", "no such route"), { status: 404 }));

  app.use("/v1/*", async (c, next) => {
    const token = c.req.header("authorization")?.replace(/^Bearer /, "");
    const owner = token && Object.hasOwn(options.users, token) ? options.users[token] : undefined;
    if (!owner)
      return Response.json(errorBody("UNAUTHORIZED", "a valid bearer token is required"), {
        status: 401,
      });
    c.set("owner", owner);
    await next();
  });
  // Each agent's token names its instance; it opens that instance's mailbox and jobs only.
  app.use("/agent/v1/*", async (c, next) => {
    const token = c.req.header("authorization")?.replace(/^Bearer /, "") ?? "";
    const instance = instanceOfToken(cp.settings.agent.secret, token);
    if (!instance)
      return Response.json(errorBody("UNAUTHORIZED", "a valid agent token is required"), {
        status: 401,
      });
    c.set("instance", instance);
    await next();
  });
  const notYours = (what: string) =>
    Response.json(errorBody("FORBIDDEN", `${what} is not this instance's`), { status: 403 });
  /** Whether the job runs on the calling agent's instance. */
  const runsOnCaller = async (jobId: string, instance: string) =>
    (await cp.jobs.get(jobId))?.job.instanceId === instance;

  app.post("/v1/jobs", async (c) => {
    const input = await body(c.req.raw);
    const parsed = parseJobSpec(input);
    if (!parsed.ok) return invalid("the job spec has errors", parsed.errors);
    const unuploaded = inputsToUpload(parsed.spec);
    if (unuploaded.length) return invalid("the job spec has errors", unuploaded);
    const key = c.req.header("idempotency-key");
    const submitted = await submitJob(cp, {
      spec: parsed.spec,
      owner: c.get("owner"),
      ...(key
        ? {
            idempotency: {
              key,
              requestHash: createHash("sha256").update(JSON.stringify(input)).digest("hex"),
            },
          }
        : {}),
    });
    if (!submitted.ok) return fail(submitted);
    return c.json(jobView(submitted.record), submitted.replayed ? 200 : 201);
  });

  app.get("/v1/jobs", async (c) => {
    const query = z
      .object({
        limit: z.coerce.number().int().min(1).max(100).optional(),
        cursor: z.string().optional(),
      })
      .safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const { limit, cursor } = query.data;
    const page = await cp.jobs.listByOwner(c.get("owner"), {
      ...(limit ? { limit } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return c.json({
      items: page.items.map((record) => jobView(record)),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
  });

  /** The caller's job, or the answer to send instead. */
  const ownJob = async (owner: string, jobId: string) => {
    const record = await cp.jobs.get(jobId);
    return record && record.owner === owner ? record : undefined;
  };
  const noSuchJob = (jobId: string) =>
    fail({ ok: false, error: "NOT_FOUND", message: `job ${jobId} not found` });

  app.get("/v1/jobs/:id", async (c) => {
    const query = z.object({ dialect: z.enum(DIALECTS).optional() }).safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    return record ? c.json(jobView(record, query.data.dialect)) : noSuchJob(c.req.param("id"));
  });

  for (const [verb, act] of [
    ["cancel", cancelJob],
    ["complete", completeJob],
  ] as const) {
    app.post(`/v1/jobs/:id/${verb}`, async (c) => {
      const record = await ownJob(c.get("owner"), c.req.param("id"));
      if (!record) return noSuchJob(c.req.param("id"));
      const done = await act(cp, record.job.id);
      return done.ok ? c.json(jobView(done.record)) : fail(done);
    });
  }

  app.post("/v1/jobs/:id/review", async (c) => {
    const decision = z
      .object({ decision: z.enum(REVIEW_DECISIONS) })
      .safeParse(await body(c.req.raw));
    if (!decision.success) return invalid("bad review", fieldsOf(decision.error));
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const done = await reviewJob(cp, record.job.id, decision.data.decision);
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  app.post("/v1/deployments/:modelName/complete", async (c) => {
    const modelName = c.req.param("modelName");
    const active = await cp.jobs.activeDeployment(modelName);
    if (!active || active.owner !== c.get("owner")) {
      return fail({
        ok: false,
        error: "NOT_FOUND",
        message: `no active deployment serves ${modelName}`,
      });
    }
    const done = await completeJob(cp, active.job.id);
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  app.get("/v1/jobs/:id/events", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ items: (await cp.jobs.events(record.job.id)).map(jobEventView) });
  });

  app.get("/v1/jobs/:id/timeline", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ periods: timelinePeriods(record.timeline, cp.clock.now()) });
  });

  app.get("/v1/jobs/:id/outputs", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ items: await cp.artifacts.listOutputs(record.job.id) });
  });

  app.get("/v1/jobs/:id/outputs/*", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const path = decodeURIComponent(c.req.path.split("/outputs/")[1] ?? "");
    const bytes = await cp.artifacts.readOutput(record.job.id, path);
    if (!bytes) return fail({ ok: false, error: "NOT_FOUND", message: `output ${path} not found` });
    return c.body(new Uint8Array(bytes), 200, { "content-type": "application/octet-stream" });
  });

  app.put("/v1/inputs/:sha256", async (c) => {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== c.req.param("sha256")) {
      return invalid("the content does not match its name", [
        { field: "sha256", message: `the content's sha256 is ${sha256}` },
      ]);
    }
    return c.json(await cp.artifacts.putInput(sha256, bytes), 201);
  });

  app.get("/v1/instances", async (c) => {
    const byStatus = await Promise.all(
      INSTANCE_STATUSES.map((status) => cp.instances.listByStatus(status)),
    );
    return c.json({ items: byStatus.flat().map(instanceView) });
  });

  app.post("/agent/v1/instances/:instanceId/poll", async (c) => {
    const request = PollRequest.safeParse(await body(c.req.raw));
    if (!request.success) return invalid("bad poll", fieldsOf(request.error));
    const instanceId = c.req.param("instanceId");
    if (instanceId !== c.get("instance")) return notYours(`instance ${instanceId}`);
    if (!(await cp.instances.get(instanceId))) {
      return fail({
        ok: false,
        error: "NOT_FOUND",
        message: `instance ${instanceId} not known yet`,
      });
    }
    const command = await cp.commands.next(instanceId, request.data.waitS, c.req.raw.signal);
    if (command && c.req.raw.signal.aborted) {
      // The agent hung up as the command arrived: keep it for the agent's next poll.
      await cp.commands.push(instanceId, command);
      return c.body(null, 204);
    }
    return command ? c.json(command) : c.body(null, 204);
  });

  app.post(AGENT_API.succeed, async (c) => {
    const report = TaskSuccess.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad report", fieldsOf(report.error));
    const done = await reportStepSuccess(
      cp,
      c.get("instance"),
      report.data.taskToken,
      report.data.output,
    );
    return done.ok ? c.body(null, 204) : fail(done);
  });

  app.post(AGENT_API.fail, async (c) => {
    const report = TaskFailure.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad report", fieldsOf(report.error));
    const done = await reportStepFailure(cp, c.get("instance"), report.data.taskToken, report.data);
    return done.ok ? c.body(null, 204) : fail(done);
  });

  app.post(AGENT_API.heartbeat, async (c) => {
    const report = TaskHeartbeat.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad heartbeat", fieldsOf(report.error));
    const done = await reportHeartbeat(cp, c.get("instance"), report.data.taskToken);
    return done.ok ? c.body(null, 204) : fail(done);
  });

  app.post("/agent/v1/jobs/:jobId/timeline", async (c) => {
    const report = TimelineReport.extend({ phase: z.enum(TIMELINE_PHASES) }).safeParse(
      await body(c.req.raw),
    );
    if (!report.success) return invalid("bad timeline report", fieldsOf(report.error));
    const { phase, ...period } = report.data;
    if (!(await runsOnCaller(c.req.param("jobId"), c.get("instance"))))
      return notYours(`job ${c.req.param("jobId")}`);
    const written = await cp.jobs.recordTimeline(c.req.param("jobId"), phase, period);
    return written.ok
      ? c.body(null, 204)
      : fail({ ok: false, error: "NOT_FOUND", message: written.message });
  });

  app.post("/agent/v1/jobs/:jobId/endpoint", async (c) => {
    const report = EndpointReport.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad endpoint report", fieldsOf(report.error));
    if (!(await runsOnCaller(c.req.param("jobId"), c.get("instance"))))
      return notYours(`job ${c.req.param("jobId")}`);
    const written = await cp.jobs.setEndpoint(c.req.param("jobId"), report.data.url);
    return written.ok
      ? c.body(null, 204)
      : fail({ ok: false, error: "NOT_FOUND", message: written.message });
  });

  const artifacts = options.localArtifacts;
  if (artifacts) {
    const keyOf = (path: string) =>
      path.replace("/agent/v1/artifacts/", "").split("/").map(decodeURIComponent);
    /** Inputs are content-addressed and open to any agent; a job's results only to the agent running it. */
    const mayUse = async (key: string[], instance: string) =>
      key[0] === "inputs" ||
      (key[0] === "jobs" && key[1] !== undefined && (await runsOnCaller(key[1], instance)));
    app.get("/agent/v1/artifacts/*", async (c) => {
      const key = keyOf(c.req.path);
      if (!(await mayUse(key, c.get("instance")))) return notYours(key.join("/"));
      const bytes = await artifacts.read(key);
      return bytes
        ? c.body(new Uint8Array(bytes), 200)
        : fail({ ok: false, error: "NOT_FOUND", message: "no such artifact" });
    });
    app.put("/agent/v1/artifacts/jobs/*", async (c) => {
      const key = keyOf(c.req.path);
      if (!(await mayUse(key, c.get("instance")))) return notYours(key.join("/"));
      const written = await artifacts.write(key, new Uint8Array(await c.req.arrayBuffer()));
      if (written) return c.body(null, 201);
      return invalid("not a place for a job's results", [
        { field: "path", message: "must be jobs/<jobId>/<file>" },
      ]);
    });
  }
  return app;
};
