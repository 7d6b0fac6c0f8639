import { Hono } from "hono";
import {
  AGENT_API,
  EndpointReport,
  PollRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../../agent/protocol.ts";
import { instanceOfToken } from "../../use-cases/agent-identity.ts";
import {
  reportHeartbeat,
  reportStepFailure,
  reportStepSuccess,
} from "../../use-cases/agent-steps.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { type AgentEnv, notYours, runsOnCaller } from "./agent-access.ts";
import { type LocalArtifactStore, localArtifactRoutes } from "./local-artifact-routes.ts";
import { bearerToken, body, fail, fieldsOf, invalid, notFound, unauthorized } from "./responses.ts";

/** Agents' paths relative to the mount point /agent/v1. */
const path = (absolute: string) => absolute.replace(/^\/agent\/v1/, "");

/**
 * The routes instance agents call. Each agent's token names its instance; it opens that
 * instance's mailbox and jobs only.
 */
export const agentRoutes = (cp: ControlPlane, localArtifacts?: LocalArtifactStore) => {
  const router = new Hono<AgentEnv>();

  router.use("*", async (c, next) => {
    const instance = instanceOfToken(cp.settings.agent.secret, bearerToken(c.req.raw) ?? "");
    if (!instance) return unauthorized("a valid agent token is required");
    c.set("instance", instance);
    await next();
  });

  router.post("/instances/:instanceId/poll", async (c) => {
    const request = PollRequest.safeParse(await body(c.req.raw));
    if (!request.success) return invalid("bad poll", fieldsOf(request.error));
    const instanceId = c.req.param("instanceId");
    if (instanceId !== c.get("instance")) return notYours(`instance ${instanceId}`);
    if (!(await cp.instances.get(instanceId)))
      return notFound(`instance ${instanceId} not known yet`);
    const command = await cp.commands.next(instanceId, request.data.waitS, c.req.raw.signal);
    if (command && c.req.raw.signal.aborted) {
      // The agent hung up as the command arrived: keep it for the agent's next poll.
      await cp.commands.push(instanceId, command);
      return c.body(null, 204);
    }
    return command ? c.json(command) : c.body(null, 204);
  });

  router.post(path(AGENT_API.succeed), async (c) => {
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

  router.post(path(AGENT_API.fail), async (c) => {
    const report = TaskFailure.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad report", fieldsOf(report.error));
    const done = await reportStepFailure(cp, c.get("instance"), report.data.taskToken, report.data);
    return done.ok ? c.body(null, 204) : fail(done);
  });

  router.post(path(AGENT_API.heartbeat), async (c) => {
    const report = TaskHeartbeat.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad heartbeat", fieldsOf(report.error));
    const done = await reportHeartbeat(cp, c.get("instance"), report.data.taskToken);
    return done.ok ? c.body(null, 204) : fail(done);
  });

  router.post("/jobs/:jobId/timeline", async (c) => {
    const report = TimelineReport.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad timeline report", fieldsOf(report.error));
    const { phase, ...period } = report.data;
    const jobId = c.req.param("jobId");
    if (!(await runsOnCaller(cp, jobId, c.get("instance")))) return notYours(`job ${jobId}`);
    const written = await cp.jobs.recordTimeline(jobId, phase, period);
    return written.ok ? c.body(null, 204) : notFound(written.message);
  });

  router.post("/jobs/:jobId/endpoint", async (c) => {
    const report = EndpointReport.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad endpoint report", fieldsOf(report.error));
    const jobId = c.req.param("jobId");
    if (!(await runsOnCaller(cp, jobId, c.get("instance")))) return notYours(`job ${jobId}`);
    const written = await cp.jobs.setEndpoint(jobId, report.data.url);
    return written.ok ? c.body(null, 204) : notFound(written.message);
  });

  if (localArtifacts) router.route("/artifacts", localArtifactRoutes(cp, localArtifacts));
  return router;
};
