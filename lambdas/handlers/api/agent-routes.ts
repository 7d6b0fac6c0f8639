import { Hono } from "hono";
import type { z } from "zod";
import {
  AGENT_API,
  EndpointReport,
  PollRequest,
  ResultUploadsRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../../agent/protocol.ts";
import type { InstanceStatus } from "../../domain/instance.ts";
import {
  type Assignment,
  assignmentOfCredential,
  instanceOfToken,
} from "../../use-cases/agent-identity.ts";
import {
  reportHeartbeat,
  reportStepFailure,
  reportStepSuccess,
} from "../../use-cases/agent-steps.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { endpointProblem } from "../../use-cases/endpoint-report.ts";
import type { Failure } from "../../use-cases/outcome.ts";
import { issueResultUploads } from "../../use-cases/result-uploads.ts";
import {
  type AgentCaller,
  type AgentEnv,
  assignedJob,
  forbidden,
  notYours,
} from "./agent-access.ts";
import { type LocalArtifactStore, localArtifactRoutes } from "./local-artifact-routes.ts";
import { bearerToken, body, fail, fieldsOf, invalid, notFound, unauthorized } from "./responses.ts";

/** Agents' paths relative to the mount point /agent/v1. */
const path = (absolute: string) => absolute.replace(/^\/agent\/v1/, "");

/** An instance's mailbox is open while the instance is: a closed instance's token opens nothing. */
const OPEN: readonly InstanceStatus[] = ["LAUNCHING", "EXECUTING", "COOLING"];

const assignmentOf = (caller: AgentCaller) =>
  "assignment" in caller ? caller.assignment : undefined;

/**
 * The routes instance agents call. An instance token opens that instance's mailbox only;
 * every other route takes the credential of the job assignment it concerns
 * (agent-identity.ts).
 */
export const agentRoutes = (cp: ControlPlane, localArtifacts?: LocalArtifactStore) => {
  const router = new Hono<AgentEnv>();

  router.use("*", async (c, next) => {
    const { secret } = cp.settings.agent;
    const token = bearerToken(c.req.raw) ?? "";
    const instance = instanceOfToken(secret, token);
    const assignment = instance === undefined ? assignmentOfCredential(secret, token) : undefined;
    if (instance !== undefined) c.set("caller", { instance });
    else if (assignment) c.set("caller", { assignment });
    else return unauthorized("a valid agent token is required");
    await next();
  });

  router.post("/instances/:instanceId/poll", async (c) => {
    const request = PollRequest.safeParse(await body(c.req.raw));
    if (!request.success) return invalid("bad poll", fieldsOf(request.error));
    const instanceId = c.req.param("instanceId");
    const caller = c.get("caller");
    if (!("instance" in caller) || instanceId !== caller.instance)
      return notYours(`instance ${instanceId}`);
    const instance = await cp.instances.get(instanceId);
    if (!instance) return notFound(`instance ${instanceId} not known yet`);
    if (!OPEN.includes(instance.status)) return notYours(`closed instance ${instanceId}`);
    const command = await cp.commands.next(instanceId, request.data.waitS, c.req.raw.signal);
    if (command && c.req.raw.signal.aborted) {
      // The agent hung up as the command arrived: keep it for the agent's next poll.
      await cp.commands.push(instanceId, command);
      return c.body(null, 204);
    }
    return command ? c.json(command) : c.body(null, 204);
  });

  /** A task report: parsed by its schema, taken by its use case with the caller's assignment. */
  const taskReport = <T>(
    route: string,
    schema: z.ZodType<T>,
    take: (assignment: Assignment, report: T) => Promise<{ ok: true } | Failure>,
  ) =>
    router.post(path(route), async (c) => {
      const report = schema.safeParse(await body(c.req.raw));
      if (!report.success) return invalid("bad report", fieldsOf(report.error));
      const assignment = assignmentOf(c.get("caller"));
      if (!assignment) return notYours("the task");
      const done = await take(assignment, report.data);
      return done.ok ? c.body(null, 204) : fail(done);
    });
  taskReport(AGENT_API.succeed, TaskSuccess, (assignment, report) =>
    reportStepSuccess(cp, assignment, report.taskToken, report.output),
  );
  taskReport(AGENT_API.fail, TaskFailure, (assignment, report) =>
    reportStepFailure(cp, assignment, report.taskToken, report),
  );
  taskReport(AGENT_API.heartbeat, TaskHeartbeat, (assignment, report) =>
    reportHeartbeat(cp, assignment, report.taskToken),
  );

  router.post("/jobs/:jobId/timeline", async (c) => {
    const report = TimelineReport.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad timeline report", fieldsOf(report.error));
    const { phase, ...period } = report.data;
    const jobId = c.req.param("jobId");
    if (!(await assignedJob(cp, c.get("caller"), jobId))) return notYours(`job ${jobId}`);
    const written = await cp.jobs.recordTimeline(jobId, phase, period);
    return written.ok ? c.body(null, 204) : notFound(written.message);
  });

  router.post("/jobs/:jobId/endpoint", async (c) => {
    const report = EndpointReport.safeParse(await body(c.req.raw));
    if (!report.success) return invalid("bad endpoint report", fieldsOf(report.error));
    const jobId = c.req.param("jobId");
    const assigned = await assignedJob(cp, c.get("caller"), jobId);
    if (!assigned) return notYours(`job ${jobId}`);
    const problem = endpointProblem(assigned.record, assigned.assignment, report.data.url);
    if (problem?.kind === "forbidden") return forbidden(problem.message);
    if (problem)
      return invalid("bad endpoint report", [{ field: "url", message: problem.message }]);
    const written = await cp.jobs.setEndpoint(jobId, report.data.url);
    return written.ok ? c.body(null, 204) : notFound(written.message);
  });

  router.post("/jobs/:jobId/results", async (c) => {
    const request = ResultUploadsRequest.safeParse(await body(c.req.raw));
    if (!request.success) return invalid("bad result uploads", fieldsOf(request.error));
    const jobId = c.req.param("jobId");
    const assigned = await assignedJob(cp, c.get("caller"), jobId, "included");
    if (!assigned) return notYours(`job ${jobId}`);
    const issued = await issueResultUploads(cp, assigned.record, request.data.files);
    return issued.ok ? c.json({ uploads: issued.uploads }) : forbidden(issued.message);
  });

  if (localArtifacts) router.route("/artifacts", localArtifactRoutes(cp, localArtifacts));
  return router;
};
