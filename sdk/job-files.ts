/** A job's result files on the local disk: downloaded under `<dir>/<jobId>/`, never outside it. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { LOGS_DIR, underFolder } from "../lambdas/domain/results.ts";
import type { JobView } from "./api-types.ts";
import type { Credentials, GpuctlClient } from "./client.ts";

export interface Downloaded {
  /** `<dir>/<jobId>`, as the caller named `dir`. */
  folder: string;
  /** How many files were written. */
  files: number;
  /** The files written, each `<folder>/<output path>`. */
  paths: string[];
}

/** Where an output lands, refusing paths that would leave the job's results folder. */
const outputTarget = (folder: string, path: string): string => {
  const target = resolve(folder, path);
  const inside = relative(folder, target);
  if (!inside || inside.startsWith("..") || isAbsolute(inside)) {
    throw new Error(`refusing output path ${JSON.stringify(path)}: it leaves ${folder}`);
  }
  return target;
};

/**
 * Downloads every output of a job (or those `include` picks) into `<dir>/<jobId>/`. Every
 * path is checked before any is fetched, so an output path that would leave that folder
 * (`../x`, `/etc/x`) refuses the whole download with nothing written.
 */
export const downloadOutputs = async (
  client: GpuctlClient,
  jobId: string,
  dir: string,
  include: (path: string) => boolean = () => true,
  as: Credentials = {},
): Promise<Downloaded> => {
  // The id is the server's word: it names a folder under `dir` and nothing else.
  const folder = outputTarget(resolve(dir), jobId);
  const outputs = (await client.listOutputs(jobId, as))
    .filter(include)
    .map((path) => ({ path, target: outputTarget(folder, path) }));
  for (const { path, target } of outputs) {
    const bytes = await client.downloadOutput(jobId, path, as);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  const named = join(dir, jobId);
  return {
    folder: named,
    files: outputs.length,
    paths: outputs.map(({ path }) => join(named, path)),
  };
};

export interface ReplayFileDirs {
  /** Where the checkpoints go (the outputs under the spec's `checkpointDir`), under `<ckptDir>/<jobId>/`. */
  ckptDir?: string | undefined;
  /** Where the logs go (the outputs under `logs/`), under `<logDir>/<jobId>/logs/`. */
  logDir?: string | undefined;
}

export interface ReplayFiles {
  /** Absent when no `ckptDir` was given or the job keeps no checkpoints. */
  checkpoints?: Downloaded;
  /** Absent when no `logDir` was given. */
  logs?: Downloaded;
}

/** Downloads a job's checkpoints and logs, each kind into the folder given for it. */
export const downloadCheckpointsAndLogs = async (
  client: GpuctlClient,
  job: JobView,
  dirs: ReplayFileDirs,
  as: Credentials = {},
): Promise<ReplayFiles> => {
  const files: ReplayFiles = {};
  if (dirs.ckptDir !== undefined && job.checkpointDir)
    files.checkpoints = await downloadOutputs(
      client,
      job.id,
      dirs.ckptDir,
      underFolder(job.checkpointDir),
      as,
    );
  if (dirs.logDir !== undefined)
    files.logs = await downloadOutputs(client, job.id, dirs.logDir, underFolder(LOGS_DIR), as);
  return files;
};
