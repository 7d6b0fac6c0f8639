import { LIMITS } from "./limits.ts";

/**
 * Where artifacts live, the same in S3 and in the local folder: inputs by owner and content,
 * results under their job. Only these two prefixes are ever written.
 */
export const INPUTS_PREFIX = "inputs/";
export const JOBS_PREFIX = "jobs/";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * An input is its owner's alone: another user who sends the same bytes stores them again,
 * so "stored already" never tells anyone that someone else holds a file. The owner is one
 * encoded segment, which holds no `/`, so no owner's key can spell another owner's.
 */
export const inputKey = (owner: string, sha256: string) =>
  `${INPUTS_PREFIX}${encodeURIComponent(owner)}/${sha256}`;
export const resultsPrefix = (jobId: string) => `${JOBS_PREFIX}${jobId}/`;
export const resultKey = (jobId: string, path: string) => `${resultsPrefix(jobId)}${path}`;

/** The header that binds an upload to its content: S3 refuses a body with another SHA-256. */
export const CHECKSUM_HEADER = "x-amz-checksum-sha256";

/** A SHA-256 as S3 carries it in CHECKSUM_HEADER: the digest in base64, not hex. */
export const checksumOf = (sha256: string) => Buffer.from(sha256, "hex").toString("base64");

/**
 * Why `path` cannot name a file among a job's results, or undefined when it can. An empty
 * segment, `.`, `..` or a backslash could reach another job's files or leave the job's
 * folder when the results come down to disk.
 */
export const resultPathProblem = (path: string): string | undefined => {
  if (path.length === 0 || path.length > LIMITS.filePathChars)
    return `must be 1-${LIMITS.filePathChars} characters`;
  const bad = path
    .split("/")
    .some(
      (segment) => segment === "" || segment === "." || segment === ".." || segment.includes("\\"),
    );
  return bad
    ? "must be a relative path of non-empty segments, none `.`, `..` or with `\\`"
    : undefined;
};
