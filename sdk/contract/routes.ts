/**
 * Every route of the HTTP API, as data: its path, what it takes and what it answers. The
 * API checks each request's path, query and headers against its entry (app.ts), the
 * OpenAPI document is generated from these entries, and a test holds the Hono app and this
 * list to the same routes. A new route is one entry here and its handler.
 */
import { z } from "zod";
import {
  Command,
  EndpointReport,
  PollRequest,
  ResultUploads,
  ResultUploadsRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../agent/protocol.ts";
import { SHA256_HEX } from "../../lambdas/domain/artifacts.ts";
import { type BodyLimit, LIMITS } from "../../lambdas/domain/limits.ts";
import {
  AddedUserView,
  AddUserRequest,
  CallerView,
  CursorQuery,
  Email,
  InputAnnouncement,
  InputUploadView,
  InstanceView,
  IssuedTokenView,
  JobEventView,
  JobQuery,
  JobSpecBody,
  JobView,
  LogChunkView,
  LoginRequest,
  LogQuery,
  listOf,
  OutputPage,
  PageQuery,
  pageOf,
  RemovedUserView,
  ReplayRequest,
  ReviewDecision,
  ReviewView,
  RoleRequest,
  SignedInView,
  TimelineView,
  TokenRequest,
  TokenView,
  UserView,
} from "./schemas.ts";

/** Request header: when the client began preparing a submitted job (ISO 8601); its Job Create period starts then. */
export const PREPARED_SINCE_HEADER = "gpuctl-prepared-since";

/** Who calls a route: anyone, a user with an access token, or an instance agent (internal). */
export type Audience = "public" | "user" | "agent";

export interface Answer {
  description: string;
  /** A JSON body of this shape; none when the answer has no body or is a `file`. */
  schema?: z.ZodType;
  /** The body is a file, of this media type. */
  file?: string;
  /** A redirect: `Location` says where. */
  redirect?: true;
}

export interface ApiRoute {
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI's form: `{name}` is one path segment; a `rest` route's last `{path}` is the rest. */
  path: string;
  operationId: string;
  summary: string;
  audience: Audience;
  /** Served by the local control plane only: on AWS these are presigned S3 URLs. */
  localOnly?: true;
  rest?: true;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** A JSON body of this shape. */
  body?: z.ZodType;
  /** The body is a file's bytes, of at most this limit (every JSON body's is `jsonBodyBytes`). */
  upload?: Exclude<BodyLimit, "jsonBodyBytes">;
  responses: Record<number, Answer>;
  /** Refusals besides those every route of its kind may give (see `refusalsOf`). */
  refusals?: number[];
}

const ID_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** A job, instance or token id: a store key, never a path (no `/`, no leading `.`). */
const id = z
  .string()
  .max(LIMITS.pathSegmentChars)
  .regex(ID_SEGMENT, "must be letters, digits, '.', '_' or '-', not starting with '.'");
const params = <K extends string>(...names: K[]) =>
  z.object(Object.fromEntries(names.map((name) => [name, id])) as Record<K, typeof id>);
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;
/** The rest of a path: segments inside what the route names, never `..` out of it. */
const restPath = z
  .string()
  .refine((path) => !CONTROL.test(path), "must not hold control characters (NUL, escapes)")
  .refine(
    (path) => !path.startsWith("/") && !path.split("/").some((segment) => /^\.\.?$/.test(segment)),
    "must be a relative path without '.' or '..' segments",
  )
  .meta({ description: "The rest of the path; it may hold slashes." });

const json = (schema: z.ZodType, description: string): Answer => ({ schema, description });
const noContent: Answer = { description: "Taken." };
const job = json(JobView, "The job.");
const bytes: Answer = { description: "The file's bytes.", file: "application/octet-stream" };
const stored: Answer = { description: "Stored." };

const IDEMPOTENCY_KEY = new RegExp(`^[\\x21-\\x7e]{1,${LIMITS.idempotencyKeyChars}}$`);
const idempotencyKey = z
  .string()
  .regex(
    IDEMPOTENCY_KEY,
    `must be 1-${LIMITS.idempotencyKeyChars} printable ASCII characters, no spaces`,
  )
  .optional()
  .meta({ description: "A retry with the same key and body answers with the same job." });

const OpenApiDocument = z
  .looseObject({ openapi: z.string(), info: z.object({ title: z.string() }) })
  .meta({ id: "OpenApiDocument" });

const userRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/v1/login",
    operationId: "login",
    summary: "Sign in with email and password: a new access token named `login`",
    audience: "public",
    body: LoginRequest,
    responses: { 200: json(SignedInView, "The token and whom it signs in.") },
    refusals: [401, 429],
  },
  {
    method: "get",
    path: "/v1/me",
    operationId: "me",
    summary: "Whom the request's token signs in",
    audience: "user",
    responses: { 200: json(CallerView, "The caller.") },
  },
  {
    method: "post",
    path: "/v1/tokens",
    operationId: "createToken",
    summary: "Make an access token for the caller",
    audience: "user",
    body: TokenRequest,
    responses: { 201: json(IssuedTokenView, "The new token: shown this once.") },
  },
  {
    method: "get",
    path: "/v1/tokens",
    operationId: "listTokens",
    summary: "The caller's access tokens (never the tokens themselves)",
    audience: "user",
    responses: { 200: json(listOf(TokenView), "The tokens.") },
  },
  {
    method: "delete",
    path: "/v1/tokens/{tokenId}",
    operationId: "revokeToken",
    summary: "Revoke one of the caller's access tokens",
    audience: "user",
    params: params("tokenId"),
    responses: { 200: json(TokenView, "The revoked token.") },
    refusals: [409],
  },
  {
    method: "post",
    path: "/v1/users",
    operationId: "addUser",
    summary: "Add a user (admins)",
    audience: "user",
    body: AddUserRequest,
    responses: { 201: json(AddedUserView, "The user and their first access token.") },
    refusals: [403, 409],
  },
  {
    method: "get",
    path: "/v1/users",
    operationId: "listUsers",
    summary: "The users (admins)",
    audience: "user",
    responses: { 200: json(listOf(UserView), "The users.") },
    refusals: [403],
  },
  {
    method: "put",
    path: "/v1/users/{email}/role",
    operationId: "setRole",
    summary: "Change a user's role (admins)",
    audience: "user",
    params: z.object({ email: Email }),
    body: RoleRequest,
    responses: { 200: json(UserView, "The user.") },
    refusals: [403, 409],
  },
  {
    method: "delete",
    path: "/v1/users/{email}",
    operationId: "removeUser",
    summary: "Remove a user and cancel their unfinished jobs (admins)",
    audience: "user",
    params: z.object({ email: Email }),
    responses: { 200: json(RemovedUserView, "The removed user.") },
    refusals: [403, 409],
  },
  {
    method: "post",
    path: "/v1/jobs",
    operationId: "submitJob",
    summary: "Submit a job",
    audience: "user",
    headers: z.object({
      "Idempotency-Key": idempotencyKey,
      [PREPARED_SINCE_HEADER]: z
        .string()
        .optional()
        .meta({ description: "When the client began preparing the job (ISO 8601)." }),
    }),
    body: JobSpecBody,
    responses: {
      201: json(JobView, "The job, submitted."),
      200: json(JobView, "The job submitted before with this Idempotency-Key."),
    },
    refusals: [403, 409],
  },
  {
    method: "post",
    path: "/v1/jobs/{id}/replay",
    operationId: "replayJob",
    summary: "Submit a job again: the caller's job's exact spec and the very inputs it ran on",
    audience: "user",
    params: params("id"),
    headers: z.object({ "Idempotency-Key": idempotencyKey }),
    body: ReplayRequest,
    responses: {
      201: json(JobView, "The new job, submitted."),
      200: json(JobView, "The job replayed before with this Idempotency-Key."),
    },
    // 409: INPUT_GONE, an input the job ran on is no longer stored; as a submit's conflicts.
    refusals: [403, 409],
  },
  {
    method: "get",
    path: "/v1/jobs",
    operationId: "listJobs",
    summary: "The caller's jobs, newest first",
    audience: "user",
    query: PageQuery,
    responses: { 200: json(pageOf(JobView), "A page of jobs.") },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}",
    operationId: "getJob",
    summary: "A job: the caller's own, or one awaiting the caller's review",
    audience: "user",
    params: params("id"),
    query: JobQuery,
    responses: { 200: job },
  },
  ...(["cancel", "complete"] as const).map(
    (verb): ApiRoute => ({
      method: "post",
      path: `/v1/jobs/{id}/${verb}`,
      operationId: `${verb}Job`,
      summary: verb === "cancel" ? "Cancel a job" : "Complete a job that runs until told",
      audience: "user",
      params: params("id"),
      responses: { 200: job },
      refusals: [403, 409],
    }),
  ),
  {
    method: "post",
    path: "/v1/jobs/{id}/review",
    operationId: "reviewJob",
    summary: "Start, approve or reject the review of a job at the cost gate (reviewers)",
    audience: "user",
    params: params("id"),
    body: ReviewDecision,
    responses: { 200: job },
    refusals: [403, 409],
  },
  {
    method: "get",
    path: "/v1/reviews",
    operationId: "listReviews",
    summary: "Jobs awaiting a review the caller may give, longest waiting first",
    audience: "user",
    query: PageQuery,
    responses: { 200: json(pageOf(ReviewView), "A page of jobs awaiting review.") },
    refusals: [403],
  },
  {
    method: "post",
    path: "/v1/deployments/{modelName}/complete",
    operationId: "completeDeployment",
    summary: "Complete the caller's active deployment of a model",
    audience: "user",
    params: z.object({
      modelName: z
        .string()
        .regex(/^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/, "must be a model name (not '.' or '..')"),
    }),
    responses: { 200: job },
    refusals: [403, 409],
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/events",
    operationId: "jobEvents",
    summary: "Every transition of a job, with its dialects once it had happened",
    audience: "user",
    params: params("id"),
    responses: { 200: json(listOf(JobEventView), "The job's events, oldest first.") },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/timeline",
    operationId: "jobTimeline",
    summary: "A job's timeline periods, by AIbro's names",
    audience: "user",
    params: params("id"),
    responses: { 200: json(TimelineView, "The periods the job has entered.") },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/logs",
    operationId: "jobLogs",
    summary: "A chunk of one of the caller's job's log streams, from a byte offset",
    audience: "user",
    params: params("id"),
    query: LogQuery,
    responses: { 200: json(LogChunkView, "At most 64 KiB of the stream, whole characters.") },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/outputs",
    operationId: "listOutputs",
    summary: "The paths of a job's result files",
    audience: "user",
    params: params("id"),
    query: CursorQuery,
    responses: { 200: json(OutputPage, "A page of result paths.") },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/outputs/{path}",
    operationId: "downloadOutput",
    summary: "Where to download one result file",
    audience: "user",
    rest: true,
    params: z.object({ id, path: restPath }),
    responses: { 302: { description: "`Location` is the file's URL.", redirect: true } },
  },
  {
    method: "post",
    path: "/v1/inputs",
    operationId: "announceInput",
    summary: "Announce an input by its SHA-256 and size: stored already, or where to upload it",
    audience: "user",
    body: InputAnnouncement,
    responses: { 200: json(InputUploadView, "Whether to upload, and where.") },
  },
  {
    method: "put",
    path: "/v1/artifacts/inputs/{sha256}",
    operationId: "uploadInput",
    summary: "Upload an announced input's bytes (the URL `POST /v1/inputs` gives)",
    audience: "user",
    localOnly: true,
    params: z.object({
      sha256: z.string().regex(SHA256_HEX, "must be a SHA-256: 64 lowercase hex digits"),
    }),
    upload: "inputBytes",
    responses: { 201: stored },
  },
  {
    method: "get",
    path: "/v1/artifacts/jobs/{jobId}/{path}",
    operationId: "readOutput",
    summary: "A result file's bytes (where `downloadOutput` redirects)",
    audience: "user",
    localOnly: true,
    rest: true,
    params: z.object({ jobId: id, path: restPath }),
    responses: { 200: bytes },
  },
  {
    method: "get",
    path: "/v1/instances",
    operationId: "listInstances",
    summary: "The instances: the caller's, or every one for an admin",
    audience: "user",
    responses: { 200: json(listOf(InstanceView), "The instances.") },
  },
];

const taskReport = (name: "succeed" | "fail" | "heartbeat", body: z.ZodType): ApiRoute => ({
  method: "post",
  path: `/agent/v1/tasks/${name}`,
  operationId: `agentTask${name[0]?.toUpperCase()}${name.slice(1)}`,
  summary: `Report a workflow step's ${name === "heartbeat" ? "heartbeat" : name === "fail" ? "failure" : "success"}`,
  audience: "agent",
  body,
  responses: { 204: noContent },
  // 404: not the current attempt of the token's job on the caller's instance.
  refusals: [403, 404, 409],
});

/** The instance agents' routes: internal, they change with the agent they ship with. */
const agentRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/agent/v1/instances/{instanceId}/poll",
    operationId: "agentPoll",
    summary: "Wait for the instance's next command",
    audience: "agent",
    localOnly: true,
    params: params("instanceId"),
    body: PollRequest,
    responses: { 200: json(Command, "The next command."), 204: noContent },
    refusals: [403],
  },
  taskReport("succeed", TaskSuccess),
  taskReport("fail", TaskFailure),
  taskReport("heartbeat", TaskHeartbeat),
  {
    method: "post",
    path: "/agent/v1/jobs/{jobId}/timeline",
    operationId: "agentTimeline",
    summary: "Report a timeline period of the job",
    audience: "agent",
    params: params("jobId"),
    body: TimelineReport,
    responses: { 204: noContent },
    refusals: [403],
  },
  {
    method: "post",
    path: "/agent/v1/jobs/{jobId}/endpoint",
    operationId: "agentEndpoint",
    summary: "Report where an inference deployment serves",
    audience: "agent",
    params: params("jobId"),
    body: EndpointReport,
    responses: { 204: noContent },
    refusals: [403],
  },
  {
    method: "post",
    path: "/agent/v1/jobs/{jobId}/results",
    operationId: "agentResultUploads",
    summary: "Where to upload each of the job's result files",
    audience: "agent",
    params: params("jobId"),
    body: ResultUploadsRequest,
    responses: { 200: json(ResultUploads, "A URL per file.") },
    refusals: [403],
  },
  {
    method: "get",
    path: "/agent/v1/artifacts/{path}",
    operationId: "agentReadArtifact",
    summary: "An input or result file the agent's job may read",
    audience: "agent",
    localOnly: true,
    rest: true,
    params: z.object({ path: restPath }),
    responses: { 200: bytes },
    refusals: [403],
  },
  {
    method: "put",
    path: "/agent/v1/artifacts/jobs/{path}",
    operationId: "agentWriteResult",
    summary: "Upload a result file of the agent's job",
    audience: "agent",
    localOnly: true,
    rest: true,
    params: z.object({ path: restPath }),
    upload: "resultFileBytes",
    responses: { 201: stored },
    refusals: [403],
  },
];

const consoleFile = (path: string, operationId: string, file: string, what: string): ApiRoute => ({
  method: "get",
  path,
  operationId,
  summary: `The web console's ${what}`,
  audience: "public",
  responses: { 200: { description: "The file.", file } },
  // 503: the console is not built where the API runs.
  refusals: [503],
});

/** The web console: a page and its two assets, the same for everyone and holding no data. */
const consoleRoutes: ApiRoute[] = [
  consoleFile("/console", "consolePage", "text/html", "page"),
  consoleFile("/console/", "consolePageSlash", "text/html", "page"),
  consoleFile("/console/console.js", "consoleScript", "text/javascript", "script"),
  consoleFile("/console/console.css", "consoleStyles", "text/css", "stylesheet"),
];

export const API_ROUTES: ApiRoute[] = [
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This document: the API's contract",
    audience: "public",
    responses: { 200: json(OpenApiDocument, "The OpenAPI 3.1 document.") },
  },
  ...userRoutes,
  ...agentRoutes,
  ...consoleRoutes,
];

/**
 * The refusals a route may answer with: a bad request, a body over its limit, an internal
 * error; without a valid token a 401; a 404 for what its path names.
 */
export const refusalsOf = (route: ApiRoute): number[] =>
  [
    ...new Set([
      400,
      ...(route.audience === "public" ? [] : [401]),
      ...(route.params ? [404] : []),
      413,
      ...(route.refusals ?? []),
      500,
    ]),
  ].sort();

const patternOf = (route: ApiRoute) =>
  new RegExp(
    `^${route.path.replace(/\{(\w+)\}/g, (_, name) =>
      route.rest && route.path.endsWith(`{${name}}`) ? "(.+)" : "([^/]+)",
    )}$`,
  );
const PATTERNS = new Map(API_ROUTES.map((route) => [route, patternOf(route)]));

/** The route a request is for, with its path parameters as sent (still percent-encoded). */
export const routeOf = (method: string, path: string) => {
  for (const [route, pattern] of PATTERNS) {
    if (route.method !== method.toLowerCase()) continue;
    const match = pattern.exec(path);
    if (!match) continue;
    const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((name) => name[1] as string);
    return { route, params: Object.fromEntries(names.map((name, i) => [name, match[i + 1]])) };
  }
  return undefined;
};
