/**
 * The agent protocol: how an instance's agent and the control plane talk, over HTTPS on
 * AWS and HTTP on loopback locally. One zod schema per message, shared by both sides.
 *
 * The agent long-polls for its next command, carries it out, and reports the result with
 * the command's task token; the control plane turns each report into a job event and
 * completes the waiting Step Functions task with the same token.
 */
import { z } from "zod";
import { resultPathProblem, SHA256_HEX } from "../lambdas/domain/artifacts.ts";
import { LIMITS } from "../lambdas/domain/limits.ts";
import { TIMELINE_PHASES } from "../lambdas/domain/timeline.ts";

export const AGENT_API = {
  /** POST, body PollRequest; 200 with a Command, or 204 when none arrived within `waitS`. */
  poll: (instanceId: string) => `/agent/v1/instances/${encodeURIComponent(instanceId)}/poll`,
  /** POST, body TaskSuccess. */
  succeed: "/agent/v1/tasks/succeed",
  /** POST, body TaskFailure. */
  fail: "/agent/v1/tasks/fail",
  /** POST, body TaskHeartbeat; every HEARTBEAT_INTERVAL_S while a command runs. */
  heartbeat: "/agent/v1/tasks/heartbeat",
  /** POST, body TimelineReport. */
  timeline: (jobId: string) => `/agent/v1/jobs/${encodeURIComponent(jobId)}/timeline`,
  /** POST, body EndpointReport: where an inference deployment serves, once it is healthy. */
  endpoint: (jobId: string) => `/agent/v1/jobs/${encodeURIComponent(jobId)}/endpoint`,
  /**
   * POST, body ResultUploadsRequest; 200 with ResultUploads: where to PUT each file of the
   * job's results (a presigned S3 URL on AWS), asked for just before the PUTs.
   */
  results: (jobId: string) => `/agent/v1/jobs/${encodeURIComponent(jobId)}/results`,
} as const;

/**
 * Every agent request proves its instance: locally with `Authorization: Bearer <instance
 * token>`, on AWS with a SigV4 signature of the instance role plus the gpuctl instance it
 * claims in `instance`. A request about a job also carries the credential of the job's
 * assignment in `assignment`.
 */
export const AGENT_HEADERS = {
  instance: "gpuctl-instance",
  assignment: "gpuctl-assignment",
} as const;

export const HEARTBEAT_INTERVAL_S = 10;
/**
 * Locally, the instance token the instance was launched with is read from the file this
 * variable names (never from the environment, which its jobs could read). It opens that
 * instance's mailbox while the instance is not closed, and proves the instance on every
 * other request.
 */
export const AGENT_TOKEN_FILE_ENV = "GPUCTL_AGENT_TOKEN_FILE";

// What agents send refuses a field the control plane does not know, as the public routes do:
// an agent ships with its control plane, so an unknown field is a mistake, not a newer agent.
export const PollRequest = z.strictObject({
  /** Env hashes whose setup already ran on this instance's disk. */
  envHashes: z.array(z.string().max(LIMITS.envHashChars)).max(LIMITS.envHashes),
  /** How long the control plane may hold the request open. */
  waitS: z.number().int().min(0).max(30),
});

/** Everything the agent needs to run one job. Paths are relative to the job's folder. */
export const JobAssignment = z.object({
  jobId: z.string(),
  kind: z.enum(["training", "inference", "interactive"]),
  envHash: z.string(),
  /** Run once per env hash per instance; the marker lives on the instance's disk. */
  setup: z.string().optional(),
  run: z.string(),
  env: z.record(z.string(), z.string()),
  /**
   * Each URL is fetched with GET: a presigned S3 URL on AWS (made when the command was
   * sent, so it expires soon), the control plane locally, or the URL the spec gave. An
   * uploaded input carries its SHA-256, which the fetched bytes must have.
   */
  inputs: z.array(z.object({ url: z.string(), path: z.string(), sha256: z.string().optional() })),
  /** Files or folders uploaded after the run. */
  outputs: z.array(z.string()),
  /** Uploaded after the run and whenever the instance is about to go (SIGTERM, spot notice). */
  checkpointDir: z.string().optional(),
  /**
   * The checkpoint an earlier attempt of the job saved (its results under `checkpointDir`),
   * fetched into the job folder with the inputs, so that this attempt resumes from it. Each
   * URL is fetched with GET, as an input's is.
   */
  checkpoint: z.array(z.object({ url: z.string(), path: z.string() })).optional(),
  /**
   * Inference: where the deployment is reached (the serving command is told the port in
   * PORT) and the path the agent checks before it reports the endpoint.
   */
  serve: z.object({ host: z.string(), port: z.number().int(), healthPath: z.string() }).optional(),
  /**
   * A multi-node job: this worker's rank (0 is the leader, whose run ends the job and whose
   * results are the job's), how many workers there are, and the leader's address.
   */
  multiNode: z
    .object({ rank: z.number().int(), worldSize: z.number().int(), leaderAddr: z.string() })
    .optional(),
  /**
   * The credential of every request about this job (reports, timeline, endpoint, inputs
   * and results), in AGENT_HEADERS.assignment: valid for this attempt of the job on this
   * instance only.
   */
  credential: z.string(),
});
export type JobAssignment = z.infer<typeof JobAssignment>;

const task = { taskToken: z.string(), job: JobAssignment };

/**
 * - prepare: acknowledge the job (the agent is registered for it); output `{ envCached }`.
 * - gearUp: run `setup` unless this env hash is cached; output `{}`.
 * - sendInputs: fetch every input, and the checkpoint an earlier attempt saved; output `{}`.
 * - run: run `run` in the job folder, its output logged as the results `logs/stdout.log`
 *   and `logs/stderr.log` (kept by the agent, out of the job's reach); output
 *   `{ exitCode }` when it exits, whatever the code. Inference: once the serving command
 *   answers on its health path, report the endpoint; it runs until aborted.
 * - returnResults: upload outputs, the checkpoint folder and the logs; output `{ files }`.
 * - abort: kill the job's process group now (cancel, complete, timeout); no report.
 * - preempt: the instance is about to be taken away (a spot interruption notice). SIGTERM to
 *   the job's process group, so that it can save a checkpoint (SIGKILL after
 *   PREEMPT_GRACE_MS); then upload the checkpoint folder, as results. Nothing is reported:
 *   the instance's end requeues the job, and its next attempt gets that checkpoint.
 * A gearUp or run that fails (or exits non-zero) or is aborted uploads the logs before it
 * reports: once the report is in, the job may end, and its results with it.
 */
export const Command = z.discriminatedUnion("type", [
  z.object({ type: z.literal("prepare"), ...task }),
  z.object({ type: z.literal("gearUp"), ...task }),
  z.object({ type: z.literal("sendInputs"), ...task }),
  z.object({ type: z.literal("run"), ...task }),
  z.object({ type: z.literal("returnResults"), ...task }),
  z.object({ type: z.literal("abort"), jobId: z.string() }),
  z.object({ type: z.literal("preempt"), jobId: z.string() }),
]);
export type Command = z.infer<typeof Command>;

/** Reports are validated as strictly as users' input: each is bounded, whatever its sender. */
const taskToken = z.string().min(1).max(LIMITS.taskTokenChars);

/** At most this many items of each list in a report go on to the workflow, with the list's length. */
const SAMPLE_ITEMS = 20;
/** At most this many characters of each text in a report (a failure's cause: a stderr tail). */
const MAX_TEXT = 2_000;
/** A report still larger than this once bounded (thousands of fields) goes on as its size only. */
const MAX_REPORT_BYTES = 16 * 1024;

const numberOr = (value: unknown, fallback: number): number =>
  typeof value === "number" ? value : fallback;

/** A text cut to what a workflow carries of it, saying how long it was. */
export const cut = (text: string) =>
  text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length} characters)` : text;

const bounded = (value: unknown): unknown =>
  typeof value === "string"
    ? cut(value)
    : typeof value === "object" && value !== null
      ? cut(JSON.stringify(value))
      : value;

/**
 * What of an agent's report its workflow carries. Step Functions fails an execution whose
 * state data passes 256 KiB, and each step's report stays in that data to the end: a list
 * (`files`: every result uploaded) becomes a sample and its count (`filesCount`), a long
 * text is cut. The results themselves are in the job's outputs. The agent bounds what it
 * sends (a report must fit the API's body limit too), and the control plane again.
 */
export const boundReport = (output: Record<string, unknown>): Record<string, unknown> => {
  const report = Object.fromEntries(
    Object.entries(output).flatMap(([key, value]) =>
      Array.isArray(value)
        ? [
            [key, value.slice(0, SAMPLE_ITEMS).map(bounded)],
            // Bounding a bounded report again keeps the count it had.
            [`${key}Count`, numberOr(output[`${key}Count`], value.length)],
          ]
        : [[key, bounded(value)]],
    ),
  );
  const bytes = Buffer.byteLength(JSON.stringify(report));
  return bytes > MAX_REPORT_BYTES ? { reportBytes: bytes } : report;
};

export const TaskSuccess = z.strictObject({
  taskToken,
  output: z.record(z.string(), z.unknown()),
});

/** Error names the workflows catch; `cause` is the human-readable reason (stderr tail, HTTP status). */
export const AGENT_ERRORS = {
  gearUp: "gpuctl.EnvFailed",
  sendInputs: "gpuctl.InputsFailed",
  run: "gpuctl.RunFailed",
  returnResults: "gpuctl.ResultsFailed",
  prepare: "gpuctl.AgentFailed",
} as const;

export const TaskFailure = z.strictObject({
  taskToken,
  error: z.string().min(1).max(LIMITS.errorChars),
  cause: z.string().max(LIMITS.causeChars),
});

export const TaskHeartbeat = z.strictObject({ taskToken });

const isoTime = z.iso.datetime({ offset: true });

export const TimelineReport = z
  .strictObject({
    phase: z.enum(TIMELINE_PHASES),
    startedAt: isoTime,
    endedAt: isoTime.optional(),
  })
  .refine(
    ({ startedAt, endedAt }) =>
      endedAt === undefined || Date.parse(endedAt) >= Date.parse(startedAt),
    { path: ["endedAt"], message: "must not be before startedAt" },
  );

export const EndpointReport = z.strictObject({ url: z.url().max(LIMITS.urlChars) });

/** At most this many files per ResultUploadsRequest: one answer of URLs stays small. */
export const RESULT_UPLOADS_BATCH = 100;

/** A result file the agent is about to upload: the URL it gets accepts these bytes only. */
export const ResultFile = z.strictObject({
  path: z.string().superRefine((path, ctx) => {
    const problem = resultPathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  size: z.number().int().min(0).max(LIMITS.resultFileBytes),
  sha256: z.string().regex(SHA256_HEX, "must be a SHA-256: 64 lowercase hex digits"),
});

export const ResultUploadsRequest = z.strictObject({
  files: z.array(ResultFile).min(1).max(RESULT_UPLOADS_BATCH),
});

/** Per file, in the request's order: PUT the file's bytes to `url` with `headers` and its length. */
export const ResultUploads = z.object({
  uploads: z.array(
    z.object({ path: z.string(), url: z.string(), headers: z.record(z.string(), z.string()) }),
  ),
});
