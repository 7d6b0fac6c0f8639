import { createHash } from "node:crypto";
import { Hono } from "hono";
import { PREPARED_SINCE_HEADER } from "../../../sdk/api-types.ts";
import {
  CursorQuery,
  InputAnnouncement,
  JobQuery,
  PageQuery,
  ReplayRequest,
  ReviewDecision,
} from "../../../sdk/contract/schemas.ts";
import { resultPathProblem } from "../../domain/artifacts.ts";
import { jobCost } from "../../domain/cost.ts";
import { may } from "../../domain/identity.ts";
import { inputsToUpload, parseJobSpec } from "../../domain/job-spec.ts";
import { LIMITS } from "../../domain/limits.ts";
import { isTerminal } from "../../domain/phases.ts";
import { timelinePeriods } from "../../domain/timeline.ts";
import type { JobRecord } from "../../ports.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { cancelJob, completeJob, reviewJob } from "../../use-cases/finish-job.ts";
import { actor, ownJob, readableBy } from "../../use-cases/job-access.ts";
import { listInstances } from "../../use-cases/list-instances.ts";
import { forbidden } from "../../use-cases/outcome.ts";
import { replayJob } from "../../use-cases/replay-job.ts";
import { submitJob } from "../../use-cases/submit-job.ts";
import { type LocalArtifactStore, localUserArtifactRoutes } from "./local-artifact-routes.ts";
import { logRoutes } from "./log-routes.ts";
import { body, fail, fieldsOf, invalid, notFound, tooLarge } from "./responses.ts";
import type { UserEnv } from "./user-identity.ts";
import { instanceView, jobEventViews, jobView, reviewView } from "./views.ts";

/**
 * An `Idempotency-Key` header (the contract has checked it, request-contract.ts) with the
 * hash of the request it names: a key sent again with another request is a conflict.
 */
const idempotencyOf = (key: string | undefined, request: unknown) =>
  key === undefined
    ? {}
    : {
        idempotency: {
          key,
          requestHash: createHash("sha256").update(JSON.stringify(request)).digest("hex"),
        },
      };

export const USER_ROUTES_NEEDS = needs(
  [
    "jobs",
    "instances",
    "compute",
    "workflows",
    "commands",
    "artifacts",
    "events",
    "metrics",
    "clock",
    "users",
  ],
  ["spotAllowed", "cooling"],
);

/**
 * The routes users call with their access token (requireCaller has checked it): their jobs,
 * inputs and the instances, and the reviewers' queue. A job's owner is its submitter's user
 * id; who may do what is docs/security.md's table, pinned by the access-matrix test.
 */
export const userRoutes = (
  cp: PortsOf<typeof USER_ROUTES_NEEDS>,
  localArtifacts?: LocalArtifactStore,
) => {
  const router = new Hono<UserEnv>();

  router.post("/jobs", async (c) => {
    const input = await body(c.req.raw);
    const parsed = parseJobSpec(input);
    if (!parsed.ok) return invalid("the job spec has errors", parsed.errors);
    const unuploaded = inputsToUpload(parsed.spec);
    if (unuploaded.length) return invalid("the job spec has errors", unuploaded);
    const idempotency = idempotencyOf(c.req.header("idempotency-key"), input);
    const preparedSince = c.req.header(PREPARED_SINCE_HEADER);
    const submitted = await submitJob(cp, {
      spec: parsed.spec,
      by: actor(c.get("caller")),
      ...(preparedSince !== undefined ? { preparedSince } : {}),
      ...idempotency,
    });
    if (!submitted.ok) return fail(submitted);
    return c.json(jobView(submitted.record), submitted.replayed ? 200 : 201);
  });

  /** A new job from one of the caller's jobs: its exact spec and pinned inputs (docs/api.md). */
  router.post("/jobs/:id/replay", async (c) => {
    const input = await body(c.req.raw);
    const request = ReplayRequest.safeParse(input);
    if (!request.success) return invalid("bad replay", fieldsOf(request.error));
    const jobId = c.req.param("id");
    const idempotency = idempotencyOf(c.req.header("idempotency-key"), { jobId, input });
    const submitted = await replayJob(cp, {
      jobId,
      by: c.get("caller"),
      waitRequestS: request.data.waitRequestS,
      ...(request.data.description ? { description: request.data.description } : {}),
      ...idempotency,
    });
    if (!submitted.ok) return fail(submitted);
    return c.json(jobView(submitted.record), submitted.replayed ? 200 : 201);
  });

  router.get("/jobs", async (c) => {
    const query = PageQuery.safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const { limit, cursor } = query.data;
    const page = await cp.jobs.listByOwner(c.get("caller").userId, {
      ...(limit ? { limit } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return c.json({
      items: page.items.map((record) => jobView(record)),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
  });

  const noSuchJob = (jobId: string) => notFound(`job ${jobId} not found`);

  /** When a job ended: its last change, once it is terminal; its timeline closes then. */
  const endedAt = (record: JobRecord) =>
    isTerminal(record.job.phase) ? record.updatedAt : undefined;

  /** The job's cost so far, priced at the instance it holds or last held. */
  const costOf = async (record: JobRecord) => {
    const instance = record.job.instanceId
      ? await cp.instances.get(record.job.instanceId)
      : undefined;
    const ran = instance && { instanceType: instance.pool.instanceType, spot: instance.spot };
    return jobCost(record.timeline, ran, cp.clock.now(), endedAt(record));
  };

  /** Its owner reads a job; so does a reviewer while it awaits their review. */
  router.get("/jobs/:id", async (c) => {
    const query = JobQuery.safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const record = await cp.jobs.get(c.req.param("id"));
    if (!record || !readableBy(c.get("caller"), record)) return noSuchJob(c.req.param("id"));
    return c.json(jobView(record, query.data.dialect, await costOf(record)));
  });

  for (const [verb, act] of [
    ["cancel", cancelJob],
    ["complete", completeJob],
  ] as const) {
    router.post(`/jobs/:id/${verb}`, async (c) => {
      const done = await act(cp, c.req.param("id"), c.get("caller"));
      return done.ok ? c.json(jobView(done.record)) : fail(done);
    });
  }

  router.post("/jobs/:id/review", async (c) => {
    const decision = ReviewDecision.safeParse(await body(c.req.raw));
    if (!decision.success) return invalid("bad review", fieldsOf(decision.error));
    const done = await reviewJob(cp, c.req.param("id"), decision.data.decision, c.get("caller"));
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  /**
   * The jobs awaiting a review the caller may give, longest waiting first: a reviewer's or
   * an admin's queue, without their own jobs.
   */
  router.get("/reviews", async (c) => {
    const caller = c.get("caller");
    if (!may(caller, "reviews.list"))
      return fail(forbidden("only a reviewer or an admin lists reviews"));
    const query = PageQuery.safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const { limit, cursor } = query.data;
    const page = await cp.jobs.pageByPhase("PENDING_REVIEW", {
      exceptOwner: caller.userId,
      ...(limit ? { limit } : {}),
      ...(cursor ? { cursor } : {}),
    });
    // Users are keyed by email and the UserStore has no lookup by user id, so one listing
    // of the users per page (none for an empty page) names the page's owners.
    const emails = new Map(
      page.items.length
        ? (await cp.users.listUsers()).map((user) => [user.userId, user.email] as const)
        : [],
    );
    return c.json({
      items: page.items.map((record) => reviewView(record, emails.get(record.owner))),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
  });

  router.post("/deployments/:modelName/complete", async (c) => {
    const modelName = c.req.param("modelName");
    const active = await cp.jobs.activeDeployment(c.get("caller").userId, modelName);
    if (!active) return notFound(`no active deployment serves ${modelName}`);
    const done = await completeJob(cp, active.job.id, c.get("caller"));
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  router.get("/jobs/:id/events", async (c) => {
    const record = await ownJob(cp, c.get("caller"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ items: jobEventViews(record, await cp.jobs.events(record.job.id)) });
  });

  router.get("/jobs/:id/timeline", async (c) => {
    const record = await ownJob(cp, c.get("caller"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ periods: timelinePeriods(record.timeline, cp.clock.now(), endedAt(record)) });
  });

  router.get("/jobs/:id/outputs", async (c) => {
    const parsed = CursorQuery.safeParse(c.req.query());
    if (!parsed.success) return invalid("bad query", fieldsOf(parsed.error));
    const record = await ownJob(cp, c.get("caller"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const { cursor } = parsed.data;
    return c.json(await cp.artifacts.listOutputs(record.job.id, cursor ? { cursor } : {}));
  });

  /** A redirect to where the bytes are: they never pass through the API. */
  router.get("/jobs/:id/outputs/*", async (c) => {
    const record = await ownJob(cp, c.get("caller"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const path = decodeURIComponent(c.req.path.split("/outputs/")[1] ?? "");
    const problem = resultPathProblem(path);
    if (problem) return invalid("bad output path", [{ field: "path", message: problem }]);
    return c.redirect(await cp.artifacts.outputDownload(record.job.id, path), 302);
  });

  router.route("/", logRoutes(cp));

  router.post("/inputs", async (c) => {
    const announced = InputAnnouncement.safeParse(await body(c.req.raw));
    if (!announced.success) return invalid("bad input", fieldsOf(announced.error));
    if (announced.data.size > LIMITS.inputBytes) return tooLarge("inputBytes");
    const upload = await cp.artifacts.inputUpload(c.get("caller").userId, announced.data);
    return c.json({ sha256: announced.data.sha256, ...upload });
  });

  if (localArtifacts) router.route("/artifacts", localUserArtifactRoutes(cp, localArtifacts));

  router.get("/instances", async (c) => {
    const caller = c.get("caller");
    const scope = may(caller, "instances.all")
      ? ({ allOwners: true } as const)
      : { owner: caller.userId };
    const instances = await listInstances(cp, scope);
    const now = cp.clock.now();
    return c.json({ items: instances.map((instance) => instanceView(instance, now)) });
  });

  return router;
};
