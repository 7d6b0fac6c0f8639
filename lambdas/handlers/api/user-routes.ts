import { createHash } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import { PREPARED_SINCE_HEADER } from "../../../sdk/api-types.ts";
import { resultPathProblem, SHA256_HEX } from "../../domain/artifacts.ts";
import { DIALECTS } from "../../domain/dialects/index.ts";
import { type Caller, may } from "../../domain/identity.ts";
import { inputsToUpload, parseJobSpec } from "../../domain/job-spec.ts";
import { LIMITS } from "../../domain/limits.ts";
import { isTerminal } from "../../domain/phases.ts";
import { timelinePeriods } from "../../domain/timeline.ts";
import type { Actor, JobRecord } from "../../ports.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { cancelJob, completeJob, REVIEW_DECISIONS, reviewJob } from "../../use-cases/finish-job.ts";
import { listInstances } from "../../use-cases/list-instances.ts";
import { forbidden } from "../../use-cases/outcome.ts";
import { submitJob } from "../../use-cases/submit-job.ts";
import { type LocalArtifactStore, localUserArtifactRoutes } from "./local-artifact-routes.ts";
import { body, fail, fieldsOf, invalid, notFound, tooLarge } from "./responses.ts";
import type { UserEnv } from "./user-identity.ts";
import { instanceView, jobEventView, jobView, reviewView } from "./views.ts";

/** An input the CLI is about to upload: the URL it gets accepts these bytes only. */
const InputAnnouncement = z.object({
  sha256: z.string().regex(SHA256_HEX, "must be the content's SHA-256: 64 lowercase hex digits"),
  size: z.number().int().min(0),
});

const IDEMPOTENCY_KEY = new RegExp(`^[\\x21-\\x7e]{1,${LIMITS.idempotencyKeyChars}}$`);

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

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: z.string().max(LIMITS.cursorChars).optional(),
});

/** Who made a change, as the job's events record it: the caller's id and email, not their role. */
const actor = ({ userId, email }: Caller): Actor => ({ userId, email });

/**
 * Whether `caller` may review `record` now: it waits at the cost gate, and the caller is a
 * reviewer or admin who does not own it (`may`'s `job.review`).
 */
const awaitsReviewBy = (caller: Caller, record: JobRecord) =>
  record.job.phase === "PENDING_REVIEW" && may(caller, "job.review", record.owner);

const OWN_REVIEW =
  "the owner of a job cannot review it: a reviewer or admin who is not its owner approves, starts or rejects its review";

/**
 * The routes users call with their access token (requireCaller has checked it): their jobs,
 * inputs and the instances, and the reviewers' queue. A job's owner is its submitter's user
 * id; who may do what is docs/security.md's table, pinned by the access-matrix test.
 */
export const userRoutes = (
  cp: PortsOf<typeof USER_ROUTES_NEEDS>,
  localArtifacts?: LocalArtifactStore,
) => {
  const router = new Hono<UserEnv & { Variables: { owner: string } }>();

  router.use("*", async (c, next) => {
    c.set("owner", c.get("caller").userId);
    await next();
  });

  router.post("/jobs", async (c) => {
    const input = await body(c.req.raw);
    const parsed = parseJobSpec(input);
    if (!parsed.ok) return invalid("the job spec has errors", parsed.errors);
    const unuploaded = inputsToUpload(parsed.spec);
    if (unuploaded.length) return invalid("the job spec has errors", unuploaded);
    const key = c.req.header("idempotency-key");
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
      return invalid("bad Idempotency-Key", [
        {
          field: "Idempotency-Key",
          message: `must be 1-${LIMITS.idempotencyKeyChars} printable ASCII characters, no spaces`,
        },
      ]);
    const preparedSince = c.req.header(PREPARED_SINCE_HEADER);
    const submitted = await submitJob(cp, {
      spec: parsed.spec,
      by: actor(c.get("caller")),
      ...(preparedSince !== undefined ? { preparedSince } : {}),
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

  router.get("/jobs", async (c) => {
    const query = PageQuery.safeParse(c.req.query());
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

  /** The caller's job, or undefined: another user's job answers as one that does not exist. */
  const ownJob = async (owner: string, jobId: string) => {
    const record = await cp.jobs.get(jobId);
    return record && record.owner === owner ? record : undefined;
  };
  const noSuchJob = (jobId: string) => notFound(`job ${jobId} not found`);

  /** Its owner reads a job; so does a reviewer while it awaits their review. */
  router.get("/jobs/:id", async (c) => {
    const query = z.object({ dialect: z.enum(DIALECTS).optional() }).safeParse(c.req.query());
    if (!query.success) return invalid("bad query", fieldsOf(query.error));
    const record = await cp.jobs.get(c.req.param("id"));
    const caller = c.get("caller");
    const visible = record && (record.owner === caller.userId || awaitsReviewBy(caller, record));
    return visible ? c.json(jobView(record, query.data.dialect)) : noSuchJob(c.req.param("id"));
  });

  for (const [verb, act] of [
    ["cancel", cancelJob],
    ["complete", completeJob],
  ] as const) {
    router.post(`/jobs/:id/${verb}`, async (c) => {
      const record = await ownJob(c.get("owner"), c.req.param("id"));
      if (!record) return noSuchJob(c.req.param("id"));
      const done = await act(cp, record.job.id, actor(c.get("caller")));
      return done.ok ? c.json(jobView(done.record)) : fail(done);
    });
  }

  router.post("/jobs/:id/review", async (c) => {
    const decision = z
      .object({ decision: z.enum(REVIEW_DECISIONS) })
      .safeParse(await body(c.req.raw));
    if (!decision.success) return invalid("bad review", fieldsOf(decision.error));
    const caller = c.get("caller");
    const record = await cp.jobs.get(c.req.param("id"));
    if (record?.owner === caller.userId) return fail(forbidden(OWN_REVIEW));
    // A plain user learns nothing of another's job; a reviewer learns it is not awaiting review.
    if (!record || !may(caller, "job.review", record.owner)) return noSuchJob(c.req.param("id"));
    const done = await reviewJob(cp, record.job.id, decision.data.decision, actor(caller));
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  /**
   * The jobs awaiting a review the caller may give, longest waiting first: a reviewer's or
   * an admin's queue, without their own jobs. The owners' emails come from one listing of
   * the users per page.
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
    const active = await cp.jobs.activeDeployment(c.get("owner"), modelName);
    if (!active) return notFound(`no active deployment serves ${modelName}`);
    const done = await completeJob(cp, active.job.id, actor(c.get("caller")));
    return done.ok ? c.json(jobView(done.record)) : fail(done);
  });

  router.get("/jobs/:id/events", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    return c.json({ items: (await cp.jobs.events(record.job.id)).map(jobEventView) });
  });

  router.get("/jobs/:id/timeline", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const endedAt = isTerminal(record.job.phase) ? record.updatedAt : undefined;
    return c.json({ periods: timelinePeriods(record.timeline, cp.clock.now(), endedAt) });
  });

  router.get("/jobs/:id/outputs", async (c) => {
    const query = z.object({ cursor: z.string().max(LIMITS.cursorChars).optional() });
    const parsed = query.safeParse(c.req.query());
    if (!parsed.success) return invalid("bad query", fieldsOf(parsed.error));
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const { cursor } = parsed.data;
    return c.json(await cp.artifacts.listOutputs(record.job.id, cursor ? { cursor } : {}));
  });

  /** A redirect to where the bytes are: they never pass through the API. */
  router.get("/jobs/:id/outputs/*", async (c) => {
    const record = await ownJob(c.get("owner"), c.req.param("id"));
    if (!record) return noSuchJob(c.req.param("id"));
    const path = decodeURIComponent(c.req.path.split("/outputs/")[1] ?? "");
    const problem = resultPathProblem(path);
    if (problem) return invalid("bad output path", [{ field: "path", message: problem }]);
    return c.redirect(await cp.artifacts.outputDownload(record.job.id, path), 302);
  });

  router.post("/inputs", async (c) => {
    const announced = InputAnnouncement.safeParse(await body(c.req.raw));
    if (!announced.success) return invalid("bad input", fieldsOf(announced.error));
    if (announced.data.size > LIMITS.inputBytes) return tooLarge("inputBytes");
    const upload = await cp.artifacts.inputUpload(c.get("owner"), announced.data);
    return c.json({ sha256: announced.data.sha256, ...upload });
  });

  if (localArtifacts) router.route("/artifacts", localUserArtifactRoutes(cp, localArtifacts));

  router.get("/instances", async (c) => {
    const caller = c.get("caller");
    const scope = may(caller, "instances.all")
      ? ({ allOwners: true } as const)
      : { owner: caller.userId };
    const instances = await listInstances(cp, scope);
    return c.json({ items: instances.map(instanceView) });
  });

  return router;
};
