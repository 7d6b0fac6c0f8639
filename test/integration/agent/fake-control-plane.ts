/**
 * A tiny control plane for agent tests: the agent routes of agent/protocol.ts on loopback,
 * checked with the protocol's own schemas, recording everything it is sent. Tests queue
 * commands for an instance and await the agent's report of each task. As the real one, it
 * takes the instance token on every request, and a job's credential for all about that job.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import {
  AGENT_HEADERS,
  type Command,
  EndpointReport,
  type JobAssignment,
  PollRequest,
  ResultUploadsRequest,
  TaskFailure,
  TaskHeartbeat,
  TaskSuccess,
  TimelineReport,
} from "../../../agent/protocol.ts";
import { CHECKSUM_HEADER, checksumOf } from "../../../lambdas/domain/artifacts.ts";

export type TaskType = Exclude<Command, { type: "abort" }>["type"];
export type TaskResult =
  | { ok: true; output: Record<string, unknown> }
  | { ok: false; error: string; cause: string };

export interface PollRecord {
  instanceId: string;
  envHashes: string[];
  waitS: number;
}

const readBody = async (request: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

export const waitFor = async <T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

export class FakeControlPlane {
  readonly token: string;
  url = "";
  readonly polls: PollRecord[] = [];
  readonly heartbeats: string[] = [];
  readonly timeline: Array<{ jobId: string } & z.infer<typeof TimelineReport>> = [];
  readonly endpoints: Array<{ jobId: string; url: string }> = [];
  /** Files the agent PUT under /agent/v1/artifacts/, by path after that prefix. */
  readonly uploads = new Map<string, Buffer>();
  /** Files announced to POST /agent/v1/jobs/<jobId>/results before their upload. */
  readonly announced: Array<{ path: string; size: number; sha256: string }> = [];
  /** Served on GET /agent/v1/artifacts/<name>. */
  readonly artifacts = new Map<string, Buffer>();
  /** Upload paths answered with this status instead of being stored. */
  readonly failUploads = new Map<string, number>();
  /** Reports for tokens no queued task had (or already reported). */
  readonly strayReports: unknown[] = [];
  /** Requests that came without the right bearer token. */
  readonly unauthorized: string[] = [];
  /** The job each credential handed out is for. */
  readonly #credentials = new Map<string, string>();
  /** Poll answers for instances it does not know yet: 404 until `known`. */
  readonly unknownInstances = new Set<string>();

  readonly #server: Server;
  readonly #queues = new Map<string, Command[]>();
  readonly #waiting = new Map<string, () => void>();
  readonly #tasks = new Map<string, (result: TaskResult) => void>();
  readonly #taskJobs = new Map<string, string>();
  #tokens = 0;

  constructor(token = `token-${randomBytes(6).toString("hex")}`) {
    this.token = token;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
  }

  /** Listens on loopback, on `port` (a free one when 0). */
  async start(port = 0): Promise<this> {
    this.#server.listen(port, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const wake of this.#waiting.values()) wake();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close");
  }

  /** The URL an agent fetches the artifact `name` from. */
  artifactUrl(name: string): string {
    return `${this.url}/agent/v1/artifacts/${name}`;
  }

  /** A plain job assignment whose results upload here; `fields` override any part of it. */
  assignment(jobId: string, fields: Partial<JobAssignment> = {}): JobAssignment {
    const credential = `credential-${jobId}-${randomBytes(6).toString("hex")}`;
    this.#credentials.set(credential, jobId);
    return {
      jobId,
      kind: "training",
      envHash: "sha256:plain",
      run: "true",
      env: {},
      inputs: [],
      outputs: [],
      credential,
      ...fields,
    };
  }

  /** Queues a command for the instance's next poll. */
  send(instanceId: string, command: Command): void {
    const queue = this.#queues.get(instanceId) ?? [];
    queue.push(command);
    this.#queues.set(instanceId, queue);
    this.#waiting.get(instanceId)?.();
  }

  /** Queues a task and returns its token and the agent's report of it. */
  queue(
    instanceId: string,
    type: TaskType,
    job: JobAssignment,
  ): { taskToken: string; result: Promise<TaskResult> } {
    const taskToken = `${type}-${++this.#tokens}`;
    this.#taskJobs.set(taskToken, job.jobId);
    const result = new Promise<TaskResult>((resolve) => this.#tasks.set(taskToken, resolve));
    this.send(instanceId, { type, taskToken, job } as Command);
    return { taskToken, result };
  }

  /** Queues a task and waits for the agent's report of it. */
  async task(
    instanceId: string,
    type: TaskType,
    job: JobAssignment,
    timeoutMs = 20_000,
  ): Promise<TaskResult> {
    const { result } = this.queue(instanceId, type, job);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no report of ${type} ${job.jobId}`)), timeoutMs);
    });
    try {
      return await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The polls of one instance. */
  pollsOf(instanceId: string): PollRecord[] {
    return this.polls.filter((poll) => poll.instanceId === instanceId);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", this.url).pathname;
    const reply = (status: number, body?: unknown): void => {
      response.statusCode = status;
      if (body !== undefined) response.setHeader("content-type", "application/json");
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const body = await readBody(request);
    const token = request.headers.authorization?.replace(/^Bearer /, "");
    const credential = request.headers[AGENT_HEADERS.assignment];
    if (token !== this.token || !this.#authorized(path, credential, body)) {
      this.unauthorized.push(`${request.method} ${path}`);
      return reply(401, { message: "bad token" });
    }
    const json = () => JSON.parse(body.toString() || "null") as unknown;

    const poll = /^\/agent\/v1\/instances\/([^/]+)\/poll$/.exec(path);
    if (poll && request.method === "POST") {
      const instanceId = decodeURIComponent(poll[1] ?? "");
      const parsed = PollRequest.safeParse(json());
      if (!parsed.success) return reply(400, { message: parsed.error.message });
      this.polls.push({ instanceId, ...parsed.data });
      if (this.unknownInstances.has(instanceId)) return reply(404, { message: "not known yet" });
      const command = await this.#next(instanceId, parsed.data.waitS, response);
      return command ? reply(200, command) : reply(204);
    }
    if (request.method === "POST" && path === "/agent/v1/tasks/succeed") {
      const report = TaskSuccess.parse(json());
      return reply(this.#settle(report.taskToken, { ok: true, output: report.output }, report));
    }
    if (request.method === "POST" && path === "/agent/v1/tasks/fail") {
      const report = TaskFailure.parse(json());
      const { error, cause } = report;
      return reply(this.#settle(report.taskToken, { ok: false, error, cause }, report));
    }
    if (request.method === "POST" && path === "/agent/v1/tasks/heartbeat") {
      this.heartbeats.push(TaskHeartbeat.parse(json()).taskToken);
      return reply(204);
    }
    const results = /^\/agent\/v1\/jobs\/([^/]+)\/results$/.exec(path);
    if (results && request.method === "POST") {
      const jobId = decodeURIComponent(results[1] ?? "");
      const parsed = ResultUploadsRequest.safeParse(json());
      if (!parsed.success) return reply(400, { message: parsed.error.message });
      this.announced.push(...parsed.data.files);
      const uploads = parsed.data.files.map(({ path: file, sha256 }) => ({
        path: file,
        url: `${this.url}/agent/v1/artifacts/jobs/${jobId}/${file.split("/").map(encodeURIComponent).join("/")}`,
        headers: { [CHECKSUM_HEADER]: checksumOf(sha256) },
      }));
      return reply(200, { uploads });
    }
    const jobRoute = /^\/agent\/v1\/jobs\/([^/]+)\/(timeline|endpoint)$/.exec(path);
    if (jobRoute && request.method === "POST") {
      const jobId = decodeURIComponent(jobRoute[1] ?? "");
      if (jobRoute[2] === "timeline")
        this.timeline.push({ jobId, ...TimelineReport.parse(json()) });
      else this.endpoints.push({ jobId, ...EndpointReport.parse(json()) });
      return reply(204);
    }
    const artifact = /^\/agent\/v1\/artifacts\/(.+)$/.exec(path);
    if (artifact) {
      const key = (artifact[1] ?? "").split("/").map(decodeURIComponent).join("/");
      if (request.method === "GET") {
        const bytes = this.artifacts.get(key);
        if (!bytes) return reply(404, { message: "no such artifact" });
        response.statusCode = 200;
        response.end(bytes);
        return;
      }
      if (request.method === "PUT") {
        const status = this.failUploads.get(key);
        if (status) return reply(status, { message: "refused" });
        // As S3 checks a presigned PUT: the body is the content it was announced as.
        const checksum = createHash("sha256").update(body).digest("base64");
        if (request.headers[CHECKSUM_HEADER] !== checksum)
          return reply(400, { message: "BadDigest" });
        this.uploads.set(key, body);
        return reply(201);
      }
    }
    reply(404, { message: `no route ${request.method} ${path}` });
  }

  /** Besides the instance token, all but polls take a credential of the job they are about. */
  #authorized(path: string, credential: string | string[] | undefined, body: Buffer): boolean {
    if (/\/poll$/.test(path)) return true;
    const jobId = typeof credential === "string" ? this.#credentials.get(credential) : undefined;
    if (jobId === undefined) return false;
    const named =
      /^\/agent\/v1\/(?:jobs|artifacts\/jobs)\/([^/]+)/.exec(path)?.[1] ??
      (path.startsWith("/agent/v1/tasks/") ? this.#jobOfTask(body) : undefined);
    return named === undefined || decodeURIComponent(named) === jobId;
  }

  #jobOfTask(body: Buffer): string | undefined {
    const { taskToken } = JSON.parse(body.toString() || "null") as { taskToken?: string };
    return taskToken === undefined ? undefined : this.#taskJobs.get(taskToken);
  }

  #settle(token: string, result: TaskResult, report: unknown): number {
    const resolve = this.#tasks.get(token);
    if (!resolve) {
      this.strayReports.push(report);
      return 400;
    }
    this.#tasks.delete(token);
    resolve(result);
    return 204;
  }

  /** Long poll: the next queued command, waiting up to `waitS` for one. */
  async #next(instanceId: string, waitS: number, response: ServerResponse) {
    const take = () => this.#queues.get(instanceId)?.shift();
    const now = take();
    if (now) return now;
    let wake = () => {};
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), waitS * 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiting.set(instanceId, wake);
      response.once("close", wake);
    });
    if (this.#waiting.get(instanceId) === wake) this.#waiting.delete(instanceId);
    return response.destroyed ? undefined : take();
  }
}
