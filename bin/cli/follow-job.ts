import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isTerminal } from "../../lambdas/domain/phases.ts";
import type { JobView } from "../../sdk/api-types.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { clock } from "./output.ts";

export const POLL_INTERVAL_MS = 500;
export const DEFAULT_RESULTS_DIR = "./gpuctl-results";

/** Where an output lands, refusing paths that would leave the job's results folder. */
const outputTarget = (folder: string, path: string): string => {
  const target = resolve(folder, path);
  const inside = relative(folder, target);
  if (!inside || inside.startsWith("..") || isAbsolute(inside)) {
    throw new Error(`refusing output path ${JSON.stringify(path)}: it leaves ${folder}`);
  }
  return target;
};

/** Downloads every output of a completed job (or those `include` picks) into `<resultsDir>/<jobId>/`. */
export const downloadOutputs = async (
  client: GpuctlClient,
  jobId: string,
  resultsDir: string,
  include: (path: string) => boolean = () => true,
): Promise<{ folder: string; files: number }> => {
  const folder = resolve(resultsDir, jobId);
  const paths = (await client.listOutputs(jobId)).filter(include);
  for (const path of paths) {
    const target = outputTarget(folder, path);
    const bytes = await client.downloadOutput(jobId, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  return { folder: join(resultsDir, jobId), files: paths.length };
};

/** What a job at the cost gate waits for: no GPU is sought until then. */
const AWAITING_REVIEWER =
  "waiting for a reviewer or admin to approve it (they see it in `gpuctl reviews`)";

/**
 * Follows the job until it ends, printing every phase it passed, with its reason, at the
 * time it changed: from the job's events, so no phase passed between two polls is missed.
 */
export const followJob = async (
  client: GpuctlClient,
  submitted: JobView,
  progress: (line: string) => void,
): Promise<JobView> => {
  let shown = 0;
  for (;;) {
    const events = await client.jobEvents(submitted.id);
    for (const event of events.slice(shown)) {
      const reason = event.reason ? `  (${event.reason})` : "";
      const by = event.by ? `  by ${event.by.email}` : "";
      const waiting = event.phase === "PENDING_REVIEW" ? `  ${AWAITING_REVIEWER}` : "";
      progress(`${clock(new Date(event.at))}  ${event.phase}${reason}${by}${waiting}`);
    }
    shown = Math.max(shown, events.length);
    if (events.some((event) => isTerminal(event.phase))) return client.getJob(submitted.id);
    await sleep(POLL_INTERVAL_MS);
  }
};
