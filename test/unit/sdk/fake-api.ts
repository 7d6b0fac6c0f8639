/** A tiny stand-in for the HTTP API: records every request and answers from a handler. */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import { submitJob } from "../../../lambdas/domain/job.ts";
import { isTerminal } from "../../../lambdas/domain/phases.ts";
import type { ApiError, InstanceView, JobEventView, JobView } from "../../../sdk/api-types.ts";

export interface RecordedRequest {
  method: string;
  /** The path without the query, as sent (still percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface FakeResponse {
  status?: number;
  json?: unknown;
  /** Raw bytes or text, sent instead of `json`. */
  body?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (request: RecordedRequest) => FakeResponse | undefined;

export interface FakeApi {
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const apiError = (
  status: number,
  code: ApiError["error"]["code"],
  message: string,
  fields?: Array<{ field: string; message: string }>,
): FakeResponse => ({
  status,
  json: { error: { code, message, ...(fields && { fields }) } } satisfies ApiError,
});

/** Starts the fake on 127.0.0.1 and a free port; unhandled routes answer 404 NOT_FOUND. */
export const startFakeApi = async (handler: Handler): Promise<FakeApi> => {
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://fake");
      const recorded: RecordedRequest = {
        method: request.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      let answer: FakeResponse;
      try {
        answer =
          handler(recorded) ??
          apiError(404, "NOT_FOUND", `no route ${recorded.method} ${recorded.path}`);
      } catch (error) {
        answer = apiError(500, "INTERNAL", `fake API handler threw: ${String(error)}`);
      }
      const body = answer.body ?? JSON.stringify(answer.json ?? null);
      response.writeHead(answer.status ?? 200, {
        "content-type":
          answer.contentType ??
          (answer.body === undefined ? "application/json" : "application/octet-stream"),
        ...answer.headers,
      });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/** A port nothing listens on: bound, then released. */
export const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

/** A realistic JobView: the dialects are computed by the domain model from the phase. */
export const jobView = (
  overrides: Partial<Omit<JobView, "dialects" | "terminal">> & Pick<JobView, "id">,
): JobView => {
  const base = {
    name: "train-resnet",
    kind: "training" as const,
    owner: "alice",
    phase: "SUBMITTED" as const,
    attempt: 1,
    requeues: 0,
    workersReady: 0,
    workersTotal: 1,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    ...overrides,
  };
  const job = {
    ...submitJob({ id: base.id, kind: base.kind, workers: base.workersTotal }),
    phase: base.phase,
    attempt: base.attempt,
    requeues: base.requeues,
    workersReady: base.workersReady,
    ran: true,
    ...(base.reason && { reason: base.reason }),
  };
  return { ...base, terminal: isTerminal(base.phase), dialects: jobDialects(job) };
};

/** A realistic JobEventView: its dialects computed by the domain model from the phase it led to. */
export const eventView = (view: Omit<JobEventView, "dialects">): JobEventView => ({
  ...view,
  dialects: jobDialects({
    ...submitJob({ id: "job-1", kind: "training" }),
    phase: view.phase,
    ...(view.reason && { reason: view.reason }),
  }),
});

export const instanceView = (overrides: Partial<InstanceView> & Pick<InstanceView, "id">) =>
  ({
    status: "EXECUTING",
    aibro: { status: "EXECUTING" },
    instanceType: "g5.xlarge",
    envHash: "abc123",
    region: "eu-west-1",
    spot: false,
    updatedAt: "2025-01-01T00:00:00.000Z",
    cost: {
      usd: 0.503,
      instanceType: "g5.xlarge",
      items: [{ part: "running", seconds: 1800, usd: 0.503 }],
      prices: {},
      asOf: "2025-01-01T00:30:00.000Z",
    },
    ...overrides,
  }) satisfies InstanceView;

/**
 * A fake API per test: `serve(handler)` starts one, closed after each test of the file that
 * calls this at its top level.
 */
export const fakeApiPerTest = () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });
  return async (handler: Handler): Promise<FakeApi> => {
    api = await startFakeApi(handler);
    return api;
  };
};

/** The requests a fake API received, as `METHOD /path?query` lines. */
export const calls = (api: FakeApi): string[] =>
  api.requests.map((request) => {
    const query = request.query.toString();
    return `${request.method} ${request.path}${query ? `?${query}` : ""}`;
  });
