import { isTerminal } from "../domain/phases.ts";
import { resultWritable } from "../domain/results.ts";
import type { AnnouncedFile, ArtifactTransfer, JobRecord } from "../ports.ts";
import type { ControlPlane } from "./control-plane.ts";

/** Why the file at `path` of the job's results may not be written now, or undefined (resultWritable). */
export const resultRefusal = async (
  cp: Pick<ControlPlane, "artifacts" | "clock">,
  record: JobRecord,
  path: string,
): Promise<string | undefined> => {
  const { job, updatedAt } = record;
  // Only an ended job's files are looked at: while it runs, any may be written again.
  const exists = isTerminal(job.phase) && (await cp.artifacts.resultExists(job.id, path));
  return resultWritable({ phase: job.phase, endedAt: updatedAt }, { path, exists }, cp.clock.now())
    ? undefined
    : `job ${job.id} has ended: its results cannot change (${path})`;
};

/**
 * Where the agent PUTs each of a batch of the job's result files, each bound to its size
 * and SHA-256; or, when any of them may not be written, why (nothing is issued then).
 */
export const issueResultUploads = async (
  cp: Pick<ControlPlane, "artifacts" | "clock">,
  record: JobRecord,
  files: Array<AnnouncedFile & { path: string }>,
): Promise<
  { ok: true; uploads: Array<ArtifactTransfer & { path: string }> } | { ok: false; message: string }
> => {
  for (const file of files) {
    const refusal = await resultRefusal(cp, record, file.path);
    if (refusal) return { ok: false, message: refusal };
  }
  const uploads = await Promise.all(
    files.map(async (file) => ({
      path: file.path,
      ...(await cp.artifacts.resultUpload(record.job.id, file)),
    })),
  );
  return { ok: true, uploads };
};
