import { LOG_CHUNK_BYTES } from "../../lambdas/domain/logs.ts";
import { SETUP_FAILURE_REASON } from "../../lambdas/domain/phases.ts";
import type { JobView } from "../../sdk/api-types.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { elapsed, LastLine, LiveLine, type Terminal } from "./live-line.ts";
import { clock } from "./output.ts";

export { downloadOutputs } from "../../sdk/job-files.ts";

export const POLL_INTERVAL_MS = 500;
export const DEFAULT_RESULTS_DIR = "./gpuctl-results";

/** What a job at the cost gate waits for: no GPU is sought until then. */
const AWAITING_REVIEWER =
  "waiting for a reviewer or admin to approve it (they see it in `gpuctl reviews`)";

/** Where to read why a job ended as it did: the setup's stderr when the job never ran. */
const logsHint = (job: JobView): string =>
  job.reason === SETUP_FAILURE_REASON
    ? `its setup failed: gpuctl logs ${job.id} --stream setup-stderr`
    : `its logs: gpuctl logs ${job.id}`;

/** What a job that did not complete leaves to say: its exit code, if it has one, and where its logs are. */
export const reportNotCompleted = (job: JobView, progress: (line: string) => void): void => {
  if (job.exitCode !== undefined) progress(`exit code ${job.exitCode}`);
  progress(logsHint(job));
};

/** A failed attempt to be retried: why it failed is in its logs, before the retry's own. */
const retryNote = (jobId: string) => `  retrying after a backoff; why: gpuctl logs ${jobId}`;

/** What one read of the job's stdout may skip to: the last line is near its end. */
const TAIL_BYTES = 4096;

export interface FollowOptions {
  /**
   * A terminal for a live line under the phases: the phase, the time since following
   * began and, while TRAINING, the last line of the job's stdout. None when not given.
   */
  live?: Terminal;
}

/**
 * Follows the job until it ends, printing every phase it passed, with its reason, at the
 * time it changed: from the job's events, so no phase passed between two polls is missed.
 */
export const followJob = async (
  client: GpuctlClient,
  submitted: JobView,
  progress: (line: string) => void,
  options: FollowOptions = {},
): Promise<JobView> => {
  const live = options.live && new LiveLine(options.live);
  const stdout = options.live && stdoutTail(client, submitted.id);
  const since = Date.now();
  const job = await client.waitForJob(submitted.id, {
    intervalMs: POLL_INTERVAL_MS,
    onEvent: (event) => {
      const reason = event.reason ? `  (${event.reason})` : "";
      const by = event.by ? `  by ${event.by.email}` : "";
      const waiting = event.phase === "PENDING_REVIEW" ? `  ${AWAITING_REVIEWER}` : "";
      const retry = event.phase === "RETRY_BACKOFF" ? retryNote(submitted.id) : "";
      live?.clear();
      progress(`${clock(new Date(event.at))}  ${event.phase}${reason}${by}${waiting}${retry}`);
    },
    onPoll: async (events) => {
      const phase = events.at(-1)?.phase ?? submitted.phase;
      if (live && stdout) {
        const line = phase === "TRAINING" ? await stdout() : "";
        live.show([phase, elapsed(Date.now() - since), line].filter(Boolean).join("  "));
      }
    },
  });
  live?.clear();
  return job;
};

/**
 * Reads the job's stdout a chunk each call, from where the last call stopped, and answers
 * its last line so far. A log far ahead is skipped to its last TAIL_BYTES, one that became
 * shorter is read again from its start. A failed read
 * (the logs are not there yet, say) answers the line known so far: the wait goes on.
 */
const stdoutTail = (client: GpuctlClient, jobId: string) => {
  const last = new LastLine();
  let offset = 0;
  return async (): Promise<string> => {
    try {
      const chunk = await client.jobLogs(jobId, { stream: "stdout", offset });
      if (chunk.size < offset) {
        // A log of its own from a retry on another instance.
        offset = 0;
        last.break();
      } else if (chunk.size - chunk.nextOffset > LOG_CHUNK_BYTES) {
        offset = chunk.size - TAIL_BYTES;
        last.break();
      } else {
        last.add(chunk.text);
        offset = chunk.nextOffset;
      }
    } catch {}
    return last.value;
  };
};
