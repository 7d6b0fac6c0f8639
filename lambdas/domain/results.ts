import { isTerminal, type Phase } from "./phases.ts";

/**
 * How long after its job ended an agent may still add log files: an aborted run's logs are
 * uploaded once its processes are gone, and cancel or a timeout ends the job meanwhile.
 */
export const LATE_LOGS_MS = 60_000;

/**
 * Whether a file of a job's results may be written: any while the job runs; once it has
 * ended its results stay as they are, but for a log file not written yet, soon after.
 */
export const resultWritable = (
  job: { phase: Phase; endedAt: string },
  file: { path: string; exists: boolean },
  now: string,
): boolean =>
  !isTerminal(job.phase) ||
  (file.path.startsWith("logs/") &&
    !file.exists &&
    Date.parse(now) - Date.parse(job.endedAt) <= LATE_LOGS_MS);
