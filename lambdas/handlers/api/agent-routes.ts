import { Hono } from "hono";
import type { z } from "zod";
import {
  AGENT_API,
  AGENT_HEADERS,
  EndpointReport,
  PollRequest,
  ResultUploadsRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../../agent/protocol.ts";
import type { InstanceStatus } from "../../domain/instance.ts";
import { LIMITS } from "../../domain/limits.ts";
import type { PolledCommandQueue } from "../../ports.ts";
import {
  type Assignment,
  assignmentOfCredential,
  instanceOfRoleSession,
  instanceOfToken,
} from "../../use-cases/agent-identity.ts";
import {
  reportHeartbeat,
  reportStepFailure,
  reportStepSuccess,
} from "../../use-cases/agent-steps.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
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
import { iamUserArn } from "./user-identity.ts";

/** Agents' paths relative to the mount point /agent/v1. */
const path = (absolute: string) => absolute.replace(/^\/agent\/v1/, "");

/** An instance's mailbox is open while the instance is: a closed instance's token opens nothing. */
const OPEN: readonly InstanceStatus[] = ["LAUNCHING", "EXECUTING", "COOLING"];

const assignmentOf = (caller: AgentCaller) =>
  "assignment" in caller ? caller.assignment : undefined;

export const AGENT_ROUTES_NEEDS = needs(
  ["jobs", "instances", "commands", "workflows", "artifacts", "events", "metrics", "clock"],
  ["agent", "costModel"],
);

export interface AgentRouteOptions {
  /**
   * On AWS, the instance role's name: agents sign their requests with it (SigV4, checked by
   * the API's IAM authorizer) and name their gpuctl instance in AGENT_HEADERS.instance.
   * Without it, agents prove their instance with its bearer instance token (locally).
   */
  agentRole?: string;
  /** The mailboxes the agents' poll route drains (locally; on AWS agents read their SQS queue). */
  polledCommands?: PolledCommandQueue;
  /** Serves the agent-facing artifact URLs when artifacts live in a local folder. */
  localArtifacts?: LocalArtifactStore;
}

/**
 * The routes instance agents call. Every request proves its instance (agent-identity.ts);
 * every request about a job also carries the credential of its assignment in
 * AGENT_HEADERS.assignment, and opens that job's attempt on that instance only.
 */
export const agentRoutes = (
  cp: PortsOf<typeof AGENT_ROUTES_NEEDS>,
  options: AgentRouteOptions = {},
) => {
  const router = new Hono<AgentEnv>();
  const { agentRole, polledCommands, localArtifacts } = options;

  router.use("*", async (c, next) => {
    const { secret } = cp.settings.agent;
    let instance: string | undefined;
    if (agentRole === undefined) {
      instance = instanceOfToken(secret, bearerToken(c.req.raw) ?? "");
      if (instance === undefined) return unauthorized("a valid instance token is required");
    } else {
      const userArn = iamUserArn(c.env?.event) ?? "";
      const claimed = c.req.header(AGENT_HEADERS.instance) ?? "";
      if (claimed.length > LIMITS.pathSegmentChars)
        return invalid("bad agent request", [
          { field: AGENT_HEADERS.instance, message: "too long" },
        ]);
      instance = await instanceOfRoleSession(cp.instances, agentRole, userArn, claimed);
      if (instance === undefined)
        return forbidden(`the caller is not the agent of instance "${claimed}"`);
    }
    const credential = c.req.header(AGENT_HEADERS.assignment);
    if (credential === undefined) {
      c.set("caller", { instance });
      return next();
    }
    const assignment = assignmentOfCredential(secret, credential);
    if (!assignment)
      return unauthorized(`${AGENT_HEADERS.assignment} is not a valid assignment credential`);
    if (assignment.instanceId !== instance)
      return forbidden(`the assignment is for another instance than ${instance}`);
    c.set("caller", { instance, assignment });
    await next();
  });

  // On AWS each agent long-polls its own SQS queue: there is no poll route.
  if (polledCommands)
    router.post("/instances/:instanceId/poll", async (c) => {
      const request = PollRequest.safeParse(await body(c.req.raw));
      if (!request.success) return invalid("bad poll", fieldsOf(request.error));
      const instanceId = c.req.param("instanceId");
      const caller = c.get("caller");
      if (instanceId !== caller.instance) return notYours(`instance ${instanceId}`);
      const instance = await cp.instances.get(instanceId);
      if (!instance) return notFound(`instance ${instanceId} not known yet`);
      if (!OPEN.includes(instance.status)) return notYours(`closed instance ${instanceId}`);
      const command = await polledCommands.next(instanceId, request.data.waitS, c.req.raw.signal);
      if (command && c.req.raw.signal.aborted) {
        // The agent hung up as the command arrived: keep it for the agent's next poll.
        await polledCommands.push(instanceId, command);
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
