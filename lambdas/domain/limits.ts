/**
 * Every size the control plane accepts, in one place (docs/api.md lists them). Together they
 * keep a stored job item far below DynamoDB's 400 KB item limit: the spec is bounded as a
 * whole, and everything else on the item (timeline, task token, endpoint) is small and
 * bounded too. Anything larger is refused with a 400 or 413 before it is read whole.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

export const LIMITS = {
  /** Any JSON body: a job spec, a review, an agent's report (Step Functions takes 256 KiB). */
  jsonBodyBytes: 256 * KiB,
  /** A job spec as stored, in bytes of its JSON: the bulk of a job item. */
  specBytes: 128 * KiB,
  /**
   * One uploaded input (`PUT /v1/inputs/{sha256}`). On AWS the upload passes API Gateway and
   * Lambda, whose 6 MB payload holds about 4.5 MB once base64-encoded; larger data goes as a `url`.
   */
  inputBytes: 4 * MiB,
  /** One result file an agent uploads: what a single S3 PUT takes. */
  resultFileBytes: 5 * 1024 * MiB,
  /** A path segment, and so every id in a path (job, instance, model): a file name's limit. */
  pathSegmentChars: 255,
  /** A whole request path. */
  pathChars: 2048,
  idempotencyKeyChars: 255,
  cursorChars: 1024,
  /** A file path inside the job folder (S3 keys are at most 1024 bytes). */
  filePathChars: 1024,
  urlChars: 2048,
  /** `run` and `setup`, each. */
  scriptChars: 64 * KiB,
  envVars: 256,
  envNameChars: 256,
  envValueChars: 32 * KiB,
  instanceTypes: 16,
  instanceTypeChars: 64,
  regionChars: 64,
  imageChars: 1024,
  inputs: 256,
  outputs: 256,
  /** Retry rules, in bytes of their JSON: they are stored twice, in the spec and the job's policy. */
  retryRulesBytes: 16 * KiB,
  /** The token an agent reports with: the workflow's (at most 2048 characters) in an envelope. */
  taskTokenChars: 4096,
  /** Step Functions' own limits on a task failure's error name and cause. */
  errorChars: 256,
  causeChars: 32 * KiB,
  /** Env hashes an agent says its disk has cached. */
  envHashes: 1024,
  envHashChars: 64,
} as const;

const UNITS: Array<[string, number]> = [
  ["GiB", 1024 * MiB],
  ["MiB", MiB],
  ["KiB", KiB],
];

/** `262144` as `256 KiB`, for messages. */
export const formatBytes = (bytes: number): string => {
  const [unit, size] = UNITS.find(([, size]) => bytes >= size && bytes % size === 0) ?? [
    "bytes",
    1,
  ];
  return `${bytes / size} ${unit}`;
};
