import { isTerminal, type Phase } from "./phases.ts";

/** The folder of a job's results that holds its logs. */
export const LOGS_DIR = "logs";

/**
 * How long after its job ended an agent may still write its log files: an aborted run's
 * last logs are uploaded once its processes are gone, and cancel or a timeout ends the job
 * meanwhile.
 */
export const LATE_LOGS_MS = 60_000;

/**
 * Whether a file of a job's results may be written: any while the job runs; once it has
 * ended its results stay as they are, but for its log files soon after. A log is written
 * again and again while the job runs (its owner reads it live), and the last time may
 * come after the end.
 */
export const resultWritable = (
  job: { phase: Phase; endedAt: string },
  path: string,
  now: string,
): boolean =>
  !isTerminal(job.phase) ||
  (path.startsWith(`${LOGS_DIR}/`) && Date.parse(now) - Date.parse(job.endedAt) <= LATE_LOGS_MS);

/**
 * Whether a result path lies under a folder of the job (`checkpoints` holds `checkpoints/e1.pt`).
 * The folder is a spec's relative path (no `..`): only empty and `.` segments need dropping.
 * The domain is bundled for the browser too, so no node:path.
 */
export const underFolder = (folder: string) => {
  const segments = folder.split("/").filter((segment) => segment !== "" && segment !== ".");
  const prefix = `${segments.join("/")}/`;
  return (path: string) => path.startsWith(prefix);
};
