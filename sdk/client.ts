/** The typed client of the HTTP API (docs/api.md), on the platform's `fetch`. */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Role } from "../lambdas/domain/identity.ts";
import type { JobSpecInput } from "../lambdas/domain/job-spec.ts";
import { type BodyLimit, bodyTooLarge, LIMITS } from "../lambdas/domain/limits.ts";
import type { LogStream } from "../lambdas/domain/logs.ts";
import { isTerminal } from "../lambdas/domain/phases.ts";
import {
  type AddedUserView,
  type ApiError,
  type CallerView,
  type DialectName,
  type InputUploadView,
  type InstanceView,
  type IssuedTokenView,
  type JobEventView,
  type JobView,
  type LogChunkView,
  type Page,
  PREPARED_SINCE_HEADER,
  type RemovedUserView,
  type ReviewView,
  type SignedInView,
  type TimelineView,
  type TokenView,
  type UserView,
} from "./api-types.ts";
import { type GpuctlConfig, loadConfig } from "./config.ts";
import { downloadCheckpointsAndLogs, type ReplayFileDirs, type ReplayFiles } from "./job-files.ts";
import { type TimelineChart, timelineSvg } from "./timeline-chart.ts";

type ErrorCode = ApiError["error"]["code"];
export type FieldError = NonNullable<ApiError["error"]["fields"]>[number];

/** The API answered with a 4xx or 5xx; `body` is its ApiError (synthesised if it sent none). */
export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  readonly status: number;
  readonly code: ErrorCode;
  readonly fields: FieldError[];
  readonly body: ApiError;
  /** A locked sign-in (429): when to try again, from `Retry-After`. */
  readonly retryAfter: Date | undefined;

  constructor(
    status: number,
    body: ApiError,
    options: { hint?: string; retryAfter?: Date | undefined } = {},
  ) {
    super(options.hint ? `${body.error.message}; ${options.hint}` : body.error.message);
    this.status = status;
    this.code = body.error.code;
    this.fields = body.error.fields ?? [];
    this.body = body;
    this.retryAfter = options.retryAfter;
  }
}

/** No answer at all: nothing listens at the endpoint, DNS failed, the connection broke. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
  readonly endpoint: string;

  constructor(endpoint: string, cause: unknown) {
    const code = networkCode(cause);
    super(
      code === "ECONNREFUSED"
        ? `the control plane at ${endpoint} is not reachable (is \`npm start\` running?)`
        : `the control plane at ${endpoint} is not reachable: ${rootMessage(cause)}`,
      { cause },
    );
    this.endpoint = endpoint;
  }
}

/** The system error code (ECONNREFUSED, ENOTFOUND, ...) under undici's "fetch failed", if any. */
const networkCode = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const { code, cause, errors } = current as {
      code?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && code.startsWith("E")) return code;
    // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
};

/** The innermost message: "bad port" says more than "fetch failed". */
const rootMessage = (error: unknown): string => {
  let current = error;
  for (let depth = 0; depth < 5 && (current as { cause?: unknown })?.cause; depth++) {
    current = (current as { cause: unknown }).cause;
  }
  return current instanceof Error ? current.message : String(current);
};

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "VALIDATION",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "TOO_LARGE",
  429: "LOCKED",
};

const isApiError = (body: unknown): body is ApiError => {
  const error = (body as { error?: unknown } | null)?.error as
    | { code?: unknown; message?: unknown; fields?: unknown }
    | undefined;
  return (
    typeof error?.code === "string" &&
    typeof error.message === "string" &&
    (error.fields === undefined || Array.isArray(error.fields))
  );
};

/** The ApiError of a failed response; a proxy's HTML page or an empty body gets one made up. */
const errorBody = (response: Response, text: string): ApiError => {
  try {
    const body: unknown = JSON.parse(text);
    if (isApiError(body)) return body;
  } catch {
    // not JSON: fall through
  }
  const detail = text.trim().slice(0, 200);
  return {
    error: {
      code: CODE_BY_STATUS[response.status] ?? "INTERNAL",
      message: `HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ""}`,
    },
  };
};

/**
 * The body, unless it is over the limit the API would refuse it for: then the API's own 413,
 * without sending it. The API answers such a body before reading it and closes the
 * connection, and a client still writing may see the connection break instead of the answer.
 */
const refuseTooLarge = (body: Uint8Array, limit: BodyLimit): Uint8Array => {
  if (body.byteLength <= LIMITS[limit]) return body;
  throw new ApiRequestError(413, { error: { code: "TOO_LARGE", ...bodyTooLarge(limit) } });
};

/** `a/b c.txt` → `a/b%20c.txt`: each segment encoded, the slashes kept. */
const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/");

const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** A `Retry-After` header (an HTTP date or seconds) as the instant it names. */
const retryAfter = (response: Response): Date | undefined => {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  const at = /^\d+$/.test(value) ? Date.now() + Number(value) * 1000 : Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at);
};

const LOGIN_PATH = "/v1/login";
const FOLLOW_INTERVAL_MS = 1000;

/**
 * Who a call is made as, as the seeds' functions take it: an `accessToken`, else `email`
 * with `password` (exchanged for a token through the sign-in route once, and kept in memory
 * for the client's life), else the client's own credentials.
 */
export interface Credentials {
  accessToken?: string;
  email?: string;
  password?: string;
}

export interface PlotTimelineOptions extends Credentials {
  chart?: TimelineChart;
  format?: "svg" | "png";
}

export interface WaitOptions {
  onEvent?: (event: JobEventView) => void | Promise<void>;
  onPoll?: (events: JobEventView[]) => void | Promise<void>;
  signal?: AbortSignal;
  intervalMs?: number;
}

export interface ReplayOptions extends ReplayFileDirs, Omit<WaitOptions, "onPoll">, Credentials {
  description?: string;
  waitRequestS?: number;
  idempotencyKey?: string;
}

/** A replay that was waited for: the job as it ended, and the files downloaded of it. */
export interface ReplayedJob extends ReplayFiles {
  job: JobView;
}

export interface ClientOptions extends GpuctlConfig, Omit<Credentials, "accessToken"> {
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  bytes?: Uint8Array;
  /** The call's own credentials, over the client's. */
  as?: Credentials;
}

/** The one refusal the client makes itself about credentials: half of an email and password. */
const incompleteCredentials = (missing: "email" | "password"): ApiRequestError =>
  new ApiRequestError(400, {
    error: {
      code: "VALIDATION",
      message: "invalid credentials",
      fields: [{ field: missing, message: "email and password go together" }],
    },
  });

export class GpuctlClient {
  /** The base URL, without a trailing slash. */
  readonly endpoint: string;
  readonly #token: string | undefined;
  readonly #credentials: Credentials;
  readonly #fetch: typeof fetch;
  /** Tokens that sign-ins with email and password gave, by address and password; memory only. */
  readonly #signedIn = new Map<string, Promise<string>>();

  constructor(options: ClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, "");
    this.#token = options.token;
    this.#credentials = {
      ...(options.email !== undefined && { email: options.email }),
      ...(options.password !== undefined && { password: options.password }),
    };
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** A client for the configured control plane (see `loadConfig`). */
  static fromEnv(env: Record<string, string | undefined> = process.env): GpuctlClient {
    return new GpuctlClient(loadConfig(env));
  }

  /**
   * Submits a job. `preparedSince`: when the caller began preparing it (reading the spec,
   * uploading inputs), so its Job Create period counts that time too.
   */
  submitJob(
    spec: JobSpecInput,
    options: { idempotencyKey?: string; preparedSince?: Date } & Credentials = {},
  ): Promise<JobView> {
    return this.#json("POST", "/v1/jobs", {
      as: options,
      json: spec,
      headers: {
        ...(options.idempotencyKey && { "idempotency-key": options.idempotencyKey }),
        ...(options.preparedSince && {
          [PREPARED_SINCE_HEADER]: options.preparedSince.toISOString(),
        }),
      },
    });
  }

  /**
   * Submits a new job from one of the caller's jobs: its exact spec and pinned inputs, with
   * `replayOf` naming it (AIbro's `replay_job`). `waitRequestS` (1 to 86400, default 10000)
   * replaces the recorded spec's wait for spot capacity. Given `ckptDir` or `logDir`, it
   * waits for the new job to end (`waitForJob`, with `onEvent` and `signal`) and downloads
   * its checkpoints to `<ckptDir>/<jobId>/` and its logs to `<logDir>/<jobId>/logs/`, as
   * `gpuctl replay --wait --ckpt-dir D --log-dir D` does; without either it answers the
   * submitted job at once.
   */
  replayJob(
    id: string,
    options: ReplayOptions & ({ ckptDir: string } | { logDir: string }),
  ): Promise<ReplayedJob>;
  replayJob(id: string, options?: ReplayOptions): Promise<JobView>;
  async replayJob(id: string, options: ReplayOptions = {}): Promise<JobView | ReplayedJob> {
    // `wait` carries the call's credentials too, for every call the replay makes.
    const { description, waitRequestS, idempotencyKey, ckptDir, logDir, ...wait } = options;
    const submitted = await this.#json<JobView>(
      "POST",
      `/v1/jobs/${encodeURIComponent(id)}/replay`,
      {
        as: wait,
        json: {
          ...(description !== undefined && { description }),
          ...(waitRequestS !== undefined && { waitRequestS }),
        },
        headers: { ...(idempotencyKey && { "idempotency-key": idempotencyKey }) },
      },
    );
    if (ckptDir === undefined && logDir === undefined) return submitted;
    const job = await this.waitForJob(submitted.id, wait);
    return { job, ...(await downloadCheckpointsAndLogs(this, job, { ckptDir, logDir }, wait)) };
  }

  /**
   * Polls the job until it has ended and answers it as it ended. `onEvent` gets each event
   * once, in order, so no phase passed between two polls is missed; `onPoll` gets every
   * event so far after each poll that found the job still running. It waits `intervalMs`
   * (1 s unless given) between polls; an aborted `signal` stops it with the abort's reason.
   */
  async waitForJob(id: string, options: WaitOptions & Credentials = {}): Promise<JobView> {
    const { onEvent, onPoll, signal, intervalMs = FOLLOW_INTERVAL_MS, ...as } = options;
    let shown = 0;
    for (;;) {
      signal?.throwIfAborted();
      const events = await this.jobEvents(id, as);
      for (const event of events.slice(shown)) await onEvent?.(event);
      shown = Math.max(shown, events.length);
      if (events.some((event) => isTerminal(event.phase))) return this.getJob(id, as);
      await onPoll?.(events);
      // An abort ends the sleep early; the loop's check then throws its reason.
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  getJob(id: string, options: { dialect?: DialectName } & Credentials = {}): Promise<JobView> {
    return this.#json("GET", `/v1/jobs/${encodeURIComponent(id)}`, {
      as: options,
      query: { dialect: options.dialect },
    });
  }

  listJobs(
    options: { limit?: number; cursor?: string } & Credentials = {},
  ): Promise<Page<JobView>> {
    return this.#json("GET", "/v1/jobs", {
      as: options,
      query: { limit: options.limit, cursor: options.cursor },
    });
  }

  cancelJob(id: string, as: Credentials = {}): Promise<JobView> {
    return this.#json("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`, { as });
  }

  /** A reviewer's decision on a job waiting at the cost gate. */
  reviewJob(
    id: string,
    decision: "start" | "approve" | "reject",
    as: Credentials = {},
  ): Promise<JobView> {
    return this.#json("POST", `/v1/jobs/${encodeURIComponent(id)}/review`, {
      as,
      json: { decision },
    });
  }

  /** Jobs awaiting a review the caller (a reviewer or admin) may give, longest waiting first. */
  listReviews(
    options: { limit?: number; cursor?: string } = {},
    as: Credentials = {},
  ): Promise<Page<ReviewView>> {
    return this.#json("GET", "/v1/reviews", {
      query: { limit: options.limit, cursor: options.cursor },
      as,
    });
  }

  /** Ends an inference deployment. */
  completeJob(id: string, as: Credentials = {}): Promise<JobView> {
    return this.#json("POST", `/v1/jobs/${encodeURIComponent(id)}/complete`, { as });
  }

  /** Ends the caller's own active deployment serving `modelName`. */
  completeDeployment(modelName: string, as: Credentials = {}): Promise<JobView> {
    return this.#json("POST", `/v1/deployments/${encodeURIComponent(modelName)}/complete`, {
      as,
    });
  }

  async jobEvents(id: string, as: Credentials = {}): Promise<JobEventView[]> {
    const page = await this.#json<Page<JobEventView>>(
      "GET",
      `/v1/jobs/${encodeURIComponent(id)}/events`,
      { as },
    );
    return page.items;
  }

  jobTimeline(id: string, as: Credentials = {}): Promise<TimelineView> {
    return this.#json("GET", `/v1/jobs/${encodeURIComponent(id)}/timeline`, { as });
  }

  /**
   * AIbro's `plot_timeline`: the job's timeline as a picture, a funnel (the default) or a
   * pie, as SVG text or PNG bytes. Works while the job runs: an open period is drawn up to now.
   */
  plotTimeline(
    jobId: string,
    options: PlotTimelineOptions & { format: "png" },
  ): Promise<Uint8Array>;
  plotTimeline(jobId: string, options?: PlotTimelineOptions & { format?: "svg" }): Promise<string>;
  async plotTimeline(
    jobId: string,
    { chart = "funnel", format = "svg", ...as }: PlotTimelineOptions = {},
  ): Promise<string | Uint8Array> {
    const [job, timeline] = await Promise.all([
      this.getJob(jobId, as),
      this.jobTimeline(jobId, as),
    ]);
    const svg = timelineSvg(timeline.periods, chart, { title: `${job.id} (${job.name})` });
    if (format === "svg") return svg;
    // Loaded on demand: the WebAssembly renderer is only needed for PNG.
    const { svgToPng } = await import("./svg-png.ts");
    return svgToPng(svg);
  }

  /** Relative paths of the job's uploaded results, every page of them. */
  async listOutputs(id: string, as: Credentials = {}): Promise<string[]> {
    const paths: string[] = [];
    let cursor: string | undefined;
    do {
      const page: Page<string> = await this.#json(
        "GET",
        `/v1/jobs/${encodeURIComponent(id)}/outputs`,
        { as, query: { cursor } },
      );
      paths.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    return paths;
  }

  /**
   * One result file. The API answers with a redirect to where the bytes are (a presigned
   * S3 URL on AWS): `fetch` follows it, and drops the bearer token when it leaves the
   * API's origin, as S3 needs (it refuses a second credential beside the URL's signature).
   */
  async downloadOutput(id: string, path: string, as: Credentials = {}): Promise<Uint8Array> {
    const response = await this.#request(
      "GET",
      `/v1/jobs/${encodeURIComponent(id)}/outputs/${encodePath(path)}`,
      { as },
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /** One chunk of a job's log stream (stdout unless named) from byte `offset` (0 unless given). */
  jobLogs(
    id: string,
    options: { stream?: LogStream; offset?: number } & Credentials = {},
  ): Promise<LogChunkView> {
    return this.#json("GET", `/v1/jobs/${encodeURIComponent(id)}/logs`, {
      as: options,
      query: { stream: options.stream, offset: options.offset },
    });
  }

  /**
   * A job's log stream as it grows, chunk by chunk (each with some text), until it has
   * ended or `signal` is aborted; it waits `intervalMs` (1 s unless given) whenever it has
   * caught up with what the job wrote. A stream that became shorter than what was read (a
   * retry of the job on another instance writes a log of its own) is read again from its
   * start.
   */
  async *followLogs(
    id: string,
    options: {
      stream?: LogStream;
      offset?: number;
      signal?: AbortSignal;
      intervalMs?: number;
    } & Credentials = {},
  ): AsyncGenerator<LogChunkView> {
    const { signal, intervalMs = FOLLOW_INTERVAL_MS, ...read } = options;
    let offset = options.offset ?? 0;
    while (!signal?.aborted) {
      const chunk = await this.jobLogs(id, { ...read, offset });
      if (chunk.size < offset) {
        offset = 0;
        continue;
      }
      if (chunk.text) yield chunk;
      if (chunk.ended) return;
      const caughtUp = !chunk.text || chunk.nextOffset >= chunk.size;
      offset = chunk.nextOffset;
      if (caughtUp) await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * Uploads a local input, named by its SHA-256 (which goes in the spec's `inputs`): the
   * API says whether it is stored already, or where to PUT it (a presigned S3 URL on AWS,
   * which takes exactly these bytes); the bytes go there, never through the API.
   */
  async uploadInput(bytes: Uint8Array, as: Credentials = {}): Promise<{ sha256: string }> {
    const sha256 = sha256Hex(refuseTooLarge(bytes, "inputBytes"));
    const answer = await this.#json<InputUploadView>("POST", "/v1/inputs", {
      as,
      json: { sha256, size: bytes.byteLength },
    });
    if (!answer.stored) {
      await this.#request("PUT", new URL(answer.upload.url), {
        as,
        headers: answer.upload.headers,
        bytes,
      });
    }
    return { sha256 };
  }

  async listInstances(as: Credentials = {}): Promise<InstanceView[]> {
    const page = await this.#json<Page<InstanceView>>("GET", "/v1/instances", { as });
    return page.items;
  }

  /**
   * Exchanges email and password for a new access token (named `login`). A wrong pair is a
   * 401; too many wrong ones lock the address: a 429 whose `retryAfter` says until when.
   */
  login(request: {
    email: string;
    password: string;
    expiresInDays?: number;
  }): Promise<SignedInView> {
    return this.#json("POST", LOGIN_PATH, { json: request });
  }

  /** Whom the call's credentials sign in: their user id, email and role. */
  whoami(as: Credentials = {}): Promise<CallerView> {
    return this.#json("GET", "/v1/me", { as });
  }

  /** A new access token of the caller's: `token` is in this answer only. */
  createToken(
    request: { name?: string; expiresInDays?: number } = {},
    as: Credentials = {},
  ): Promise<IssuedTokenView> {
    return this.#json("POST", "/v1/tokens", { as, json: request });
  }

  /** The caller's own tokens, newest first, revoked and expired ones too. */
  async listTokens(as: Credentials = {}): Promise<TokenView[]> {
    return (await this.#json<Page<TokenView>>("GET", "/v1/tokens", { as })).items;
  }

  /** Revokes one of the caller's tokens, by its id: refused from then on. */
  revokeToken(tokenId: string, as: Credentials = {}): Promise<TokenView> {
    return this.#json("DELETE", `/v1/tokens/${encodeURIComponent(tokenId)}`, { as });
  }

  /** Admins: adds a user, with a first access token for them (in this answer only). */
  addUser(
    request: { email: string; role?: Role; password?: string },
    as: Credentials = {},
  ): Promise<AddedUserView> {
    return this.#json("POST", "/v1/users", { as, json: request });
  }

  /** Admins: every user. */
  async listUsers(as: Credentials = {}): Promise<UserView[]> {
    return (await this.#json<Page<UserView>>("GET", "/v1/users", { as })).items;
  }

  /** Admins: changes another user's role; it applies to their next request. */
  setRole(email: string, role: Role, as: Credentials = {}): Promise<UserView> {
    return this.#json("PUT", `/v1/users/${encodeURIComponent(email)}/role`, {
      as,
      json: { role },
    });
  }

  /** Admins: removes another user; their tokens stop working at once, their jobs stay. */
  removeUser(email: string, as: Credentials = {}): Promise<RemovedUserView> {
    return this.#json("DELETE", `/v1/users/${encodeURIComponent(email)}`, { as });
  }

  /**
   * The bearer token a call sends (its own, else the client's) and, when it came from an
   * email and password, the sign-in that made it, so a refused one is made again.
   */
  async #tokenFor(as: Credentials = {}): Promise<{ token?: string; signIn?: string }> {
    if (as.accessToken) return { token: as.accessToken };
    const { email, password } =
      as.email !== undefined || as.password !== undefined ? as : this.#credentials;
    if (email === undefined && password === undefined)
      return this.#token ? { token: this.#token } : {};
    if (email === undefined) throw incompleteCredentials("email");
    if (password === undefined) throw incompleteCredentials("password");
    const signIn = `${email.trim().toLowerCase()}\n${password}`;
    let token = this.#signedIn.get(signIn);
    if (!token) {
      // A day, the least the API gives: the token lives in this client's memory only.
      token = this.login({ email, password, expiresInDays: 1 }).then((made) => made.token);
      this.#signedIn.set(signIn, token);
      // A refused sign-in is not kept: the next call tries again.
      token.catch(() => this.#signedIn.delete(signIn));
    }
    return { token: await token, signIn };
  }

  async #json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#request(method, path, options);
    return (await response.json()) as T;
  }

  /** Whether `url` is the API's, and so gets the bearer token (a presigned URL must not). */
  #isApi(url: URL): boolean {
    const base = new URL(this.endpoint);
    const basePath = base.pathname.replace(/\/+$/, "");
    return (
      url.origin === base.origin && (basePath === "" || url.pathname.startsWith(`${basePath}/`))
    );
  }

  /** A request to `target`: a path of the API, or a whole URL the API handed out. */
  async #request(
    method: string,
    target: string | URL,
    options: RequestOptions = {},
  ): Promise<Response> {
    const url = target instanceof URL ? target : new URL(`${this.endpoint}${target}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    const signingIn = target === LOGIN_PATH;
    const authorized = !signingIn && this.#isApi(url);
    let body: Uint8Array | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = refuseTooLarge(
        new TextEncoder().encode(JSON.stringify(options.json)),
        "jsonBodyBytes",
      );
    } else if (options.bytes) {
      headers["content-type"] = "application/octet-stream";
      body = refuseTooLarge(options.bytes, "inputBytes");
    }
    const send = async (token: string | undefined): Promise<Response> => {
      const sent = token ? { ...headers, authorization: `Bearer ${token}` } : headers;
      try {
        return await this.#fetch(url, {
          method,
          headers: sent,
          ...(body !== undefined && { body }),
        });
      } catch (error) {
        throw new UnreachableError(this.endpoint, error);
      }
    };
    const auth = authorized ? await this.#tokenFor(options.as) : {};
    let response = await send(auth.token);
    if (response.status === 401 && auth.signIn) {
      // The token an email and password gave has expired or been revoked: sign in once more.
      this.#signedIn.delete(auth.signIn);
      response = await send((await this.#tokenFor(options.as)).token);
    }
    if (!response.ok) {
      const hint =
        response.status === 401 && !signingIn
          ? "sign in with `gpuctl login`, or give another access token"
          : undefined;
      throw new ApiRequestError(response.status, errorBody(response, await response.text()), {
        ...(hint && { hint }),
        ...(response.status === 429 && { retryAfter: retryAfter(response) }),
      });
    }
    return response;
  }
}
