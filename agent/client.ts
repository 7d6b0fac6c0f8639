/** The agent's side of the HTTP protocol in protocol.ts. */
import type { z } from "zod";
import type { InstanceProof } from "./auth.ts";
import { describeError } from "./log.ts";
import {
  AGENT_API,
  AGENT_HEADERS,
  type EndpointReport,
  type PollRequest,
  ResultUploads,
  type ResultUploadsRequest,
  type TaskFailure,
  type TaskSuccess,
  type TimelineReport,
} from "./protocol.ts";

/** An answer the control plane gave and that retrying will not change (a 4xx). */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

/** Capped exponential backoff with jitter: 250 ms, 500 ms, ... up to `capMs`. */
export class Backoff {
  readonly #firstMs: number;
  readonly #capMs: number;
  #nextMs: number;
  constructor(firstMs = 250, capMs = 5_000) {
    this.#firstMs = firstMs;
    this.#capMs = capMs;
    this.#nextMs = firstMs;
  }
  next(): number {
    const ms = this.#nextMs;
    this.#nextMs = Math.min(this.#capMs, ms * 2);
    return Math.round(ms * (0.75 + Math.random() * 0.5));
  }
  reset(): void {
    this.#nextMs = this.#firstMs;
  }
}

/** 408, 429 and 5xx are worth another try; other 4xx are not. */
export const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export type PollOutcome =
  | { type: "command"; body: unknown }
  | { type: "empty" }
  /** Not reachable, not ready, or not knowing this instance yet: poll again after a pause. */
  | { type: "retry"; reason: string };

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The agent's requests to the control plane, and the one place their headers are made: each
 * proves the instance (`InstanceProof`), each about a job carries its assignment's credential.
 */
export class ControlPlane {
  readonly endpoint: string;
  readonly #proof: InstanceProof;
  readonly #base: URL;

  constructor(endpoint: string, proof: InstanceProof) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.#proof = proof;
    this.#base = new URL(this.endpoint);
  }

  /** Whether `url` is served by the control plane, and so gets the agent's credentials. */
  isUnder(url: string): boolean {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return false;
    }
    if (target.origin !== this.#base.origin) return false;
    const basePath = this.#base.pathname.replace(/\/+$/, "");
    return (
      basePath === "" || target.pathname === basePath || target.pathname.startsWith(`${basePath}/`)
    );
  }

  /**
   * The headers a file transfer to or from `url` carries: the instance's proof and the
   * assignment `credential`, only for the control plane.
   */
  authFor(url: string, credential: string): Record<string, string> {
    if (!this.isUnder(url)) return {};
    return { ...this.#proof.transferHeaders(), [AGENT_HEADERS.assignment]: credential };
  }

  /** A JSON POST's headers: the instance's proof, and the assignment's `credential` if any. */
  async #jsonHeaders(url: string, body: string, credential?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (credential !== undefined) headers[AGENT_HEADERS.assignment] = credential;
    const proof = await this.#proof.headers({ method: "POST", url, headers, body });
    return { ...headers, ...proof };
  }

  async poll(
    instanceId: string,
    request: z.infer<typeof PollRequest>,
    signal: AbortSignal,
  ): Promise<PollOutcome> {
    const url = this.endpoint + AGENT_API.poll(instanceId);
    const body = JSON.stringify(request);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: await this.#jsonHeaders(url, body),
        body,
        signal: AbortSignal.any([
          signal,
          AbortSignal.timeout(request.waitS * 1000 + REQUEST_TIMEOUT_MS),
        ]),
      });
      if (response.status === 204) {
        await response.body?.cancel();
        return { type: "empty" };
      }
      if (response.status === 200) return { type: "command", body: await response.json() };
      const text = await response.text().catch(() => "");
      return { type: "retry", reason: `HTTP ${response.status} ${text.slice(0, 200)}`.trim() };
    } catch (error) {
      if (signal.aborted) throw error;
      return { type: "retry", reason: describeError(error) };
    }
  }

  /**
   * POSTs `body` to `path` with `credential`; resolves to the answer's JSON, if any.
   * Connection errors, 408, 429 and 5xx are retried with backoff, up to `attempts` tries
   * (Infinity: until `signal` aborts); other answers throw HttpError.
   */
  async post(
    path: string,
    body: unknown,
    credential: string,
    options: { attempts: number; signal?: AbortSignal },
  ): Promise<unknown> {
    const url = this.endpoint + path;
    const text = JSON.stringify(body);
    const backoff = new Backoff();
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      try {
        const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
        if (options.signal) signals.push(options.signal);
        // Signed afresh each try: a SigV4 signature is good for minutes only.
        const response = await fetch(url, {
          method: "POST",
          headers: await this.#jsonHeaders(url, text, credential),
          body: text,
          signal: AbortSignal.any(signals),
        });
        const answer = await response.text().catch(() => "");
        if (response.ok) return answer ? JSON.parse(answer) : undefined;
        const error = new HttpError(
          response.status,
          `POST ${path}: HTTP ${response.status} ${answer.slice(0, 200)}`.trim(),
        );
        if (!retryable(response.status)) throw error;
        failure = error;
      } catch (error) {
        if (error instanceof HttpError && !retryable(error.status)) throw error;
        failure = error instanceof Error ? error : new Error(String(error));
      }
      if (attempt >= options.attempts || options.signal?.aborted) throw failure;
      await sleep(backoff.next(), options.signal);
      if (options.signal?.aborted) throw failure;
    }
  }

  /** The reports below are about one job, and carry the credential of its assignment. */
  succeed(credential: string, body: z.infer<typeof TaskSuccess>, signal?: AbortSignal) {
    const options = withSignal({ attempts: Infinity }, signal);
    return this.post(AGENT_API.succeed, body, credential, options);
  }

  fail(credential: string, body: z.infer<typeof TaskFailure>, signal?: AbortSignal) {
    return this.post(AGENT_API.fail, body, credential, withSignal({ attempts: Infinity }, signal));
  }

  /** One try: the next heartbeat is never far. */
  heartbeat(credential: string, taskToken: string) {
    return this.post(AGENT_API.heartbeat, { taskToken }, credential, { attempts: 1 });
  }

  timeline(credential: string, jobId: string, report: z.infer<typeof TimelineReport>) {
    return this.post(AGENT_API.timeline(jobId), report, credential, { attempts: 3 });
  }

  /** Where to PUT each of a batch of the job's result files. */
  async resultUploads(
    credential: string,
    jobId: string,
    request: z.infer<typeof ResultUploadsRequest>,
    signal: AbortSignal,
  ): Promise<z.infer<typeof ResultUploads>> {
    const answer = await this.post(AGENT_API.results(jobId), request, credential, {
      attempts: 3,
      signal,
    });
    return ResultUploads.parse(answer);
  }

  endpointReady(
    credential: string,
    jobId: string,
    report: z.infer<typeof EndpointReport>,
    signal?: AbortSignal,
  ) {
    const options = withSignal({ attempts: Infinity }, signal);
    return this.post(AGENT_API.endpoint(jobId), report, credential, options);
  }
}

const withSignal = (
  options: { attempts: number },
  signal: AbortSignal | undefined,
): { attempts: number; signal?: AbortSignal } => (signal ? { ...options, signal } : options);
