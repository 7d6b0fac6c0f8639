/**
 * A job's log streams, as the agent keeps them among its results (`logs/<stream>.log`), and
 * how a reader takes them a chunk at a time while the job runs and after it ended.
 */
import { isTerminal, type Phase } from "./phases.ts";
import { LATE_LOGS_MS, LOGS_DIR } from "./results.ts";

export const LOG_STREAMS = ["stdout", "stderr", "setup-stdout", "setup-stderr"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

/** The most bytes one read of a log answers: a page a terminal shows at once. */
export const LOG_CHUNK_BYTES = 64 * 1024;

/** Where a stream lives among the job's results. */
export const logPath = (stream: LogStream) => `${LOGS_DIR}/${stream}.log`;

/**
 * Whether a job's logs are as they stay. An agent uploads them before it reports a run's
 * success or failure; after a cancel, a timeout or a lost instance they may still come,
 * for as long as the control plane takes them (LATE_LOGS_MS).
 */
export const logsFinal = (job: { phase: Phase; endedAt: string }, now: string): boolean =>
  isTerminal(job.phase) &&
  (job.phase === "COMPLETED" ||
    job.phase === "FAILED" ||
    Date.parse(now) - Date.parse(job.endedAt) > LATE_LOGS_MS);

/** How many of `bytes` end on a whole UTF-8 character: a cut character waits for the next read. */
export const wholeCharacters = (bytes: Uint8Array): number => {
  // A character is at most 4 bytes: look back at most 3 for the start of the last one.
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
};

export interface LogChunk {
  offset: number;
  nextOffset: number;
  size: number;
  text: string;
  ended: boolean;
}

/**
 * The text of `bytes`, read from byte `offset` of a log now `size` bytes long. Its end is
 * held back to a whole character, unless the log is final and this is its end (its bytes
 * are all there are, and are shown as they are). An offset past the end reads nothing, at
 * the end: no answer points a reader beyond the log (one that shrank, a retry's own log,
 * is told by a `size` below where it read).
 */
export const logChunk = (
  read: { bytes: Uint8Array; size: number; offset: number },
  final: boolean,
): LogChunk => {
  const { bytes, size } = read;
  const offset = Math.min(read.offset, size);
  const atEnd = offset + bytes.length >= size;
  const kept = final && atEnd ? bytes.length : wholeCharacters(bytes);
  const nextOffset = offset + kept;
  return {
    offset,
    nextOffset,
    size,
    text: new TextDecoder().decode(bytes.subarray(0, kept)),
    ended: final && nextOffset >= size,
  };
};
