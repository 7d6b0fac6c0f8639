/** The logs route of the fake API: a job's streams as given, served as the real route does. */
import { LOG_STREAMS, type LogStream, logChunk } from "../../../lambdas/domain/logs.ts";
import type { LogChunkView } from "../../../sdk/api-types.ts";
import type { FakeResponse, RecordedRequest } from "./fake-api.ts";

export interface FakeLogs {
  /** What each stream holds now: append to it as the job writes. */
  streams: Partial<Record<LogStream, string>>;
  /** Whether no more bytes will come. */
  ended: boolean;
}

/**
 * Answers `GET /v1/jobs/{jobId}/logs` from `logs`, `chunkBytes` at a time, or undefined for
 * any other request.
 */
export const logsRoute =
  (jobId: string, logs: FakeLogs, chunkBytes = 64 * 1024) =>
  (request: RecordedRequest): FakeResponse | undefined => {
    if (request.method !== "GET" || request.path !== `/v1/jobs/${encodeURIComponent(jobId)}/logs`)
      return undefined;
    const stream = (request.query.get("stream") ?? "stdout") as LogStream;
    if (!LOG_STREAMS.includes(stream)) return { status: 400, json: { error: "stream" } };
    const offset = Number(request.query.get("offset") ?? 0);
    const all = Buffer.from(logs.streams[stream] ?? "");
    const bytes = new Uint8Array(all.subarray(offset, offset + chunkBytes));
    const chunk = logChunk({ bytes, size: all.length, offset }, logs.ended);
    return { json: { stream, ...chunk } satisfies LogChunkView };
  };
