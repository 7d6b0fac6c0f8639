import { resultWritable } from "../domain/results.ts";
import type { AnnouncedFile, ArtifactTransfer, JobRecord } from "../ports.ts";
import type { ControlPlane } from "./control-plane.ts";

/** Why the file at `path` of the job's results may not be written now, or undefined (resultWritable). */
export const resultRefusal = (
  cp: Pick<ControlPlane, "clock">,
  record: JobRecord,
  path: string,
): string | undefined => {
  const { job, updatedAt } = record;
  return resultWritable({ phase: job.phase, endedAt: updatedAt }, path, cp.clock.now())
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
    const refusal = resultRefusal(cp, record, file.path);
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
