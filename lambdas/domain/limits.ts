/**
 * Every size the control plane accepts, in one place (docs/api.md's table is generated from
 * here). Together they keep a stored job item far below DynamoDB's 400 KB item limit: the
 * spec is bounded as a whole, and everything else on the item (timeline, task token,
 * endpoint) is small and bounded too. Anything larger is refused with a 400 or 413 before
 * it is read whole.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

export const LIMITS = {
  jsonBodyBytes: 256 * KiB,
  jsonDepth: 32,
  specBytes: 128 * KiB,
  inputBytes: 4 * MiB,
  resultFileBytes: 5 * 1024 * MiB,
  pathSegmentChars: 255,
  pathChars: 2048,
  idempotencyKeyChars: 255,
  cursorChars: 1024,
  filePathChars: 1024,
  urlChars: 2048,
  scriptChars: 64 * KiB,
  envVars: 256,
  envNameChars: 256,
  envValueChars: 32 * KiB,
  instanceTypes: 16,
  workers: 16,
  instanceTypeChars: 64,
  regionChars: 64,
  imageChars: 1024,
  inputs: 256,
  outputs: 256,
  retryRulesBytes: 16 * KiB,
  taskTokenChars: 4096,
  errorChars: 256,
  causeChars: 32 * KiB,
  envHashes: 1024,
  envHashChars: 64,
  descriptionChars: 4096,
} as const;

export type Limit = keyof typeof LIMITS;

/** What each limit bounds, and why it is what it is. */
export const LIMIT_DESCRIPTIONS: Record<Limit, string> = {
  jsonBodyBytes:
    "any JSON body: a job spec, a review, an agent's report (Step Functions takes 256 KiB)",
  jsonDepth: "levels of arrays and objects nested in a JSON body",
  specBytes: "a job spec as stored, in bytes of its JSON: the bulk of a job item",
  inputBytes:
    "one uploaded input (`POST /v1/inputs`, then its PUT): the CLI holds it in memory while it uploads it; larger data goes as an input `url`",
  resultFileBytes: "one result file an agent uploads: what a single S3 PUT takes",
  pathSegmentChars:
    "a path segment, and so every id in a path (job, instance, model name): a file name's limit",
  pathChars: "a whole request path",
  idempotencyKeyChars: "the `Idempotency-Key` header (printable ASCII, no spaces)",
  cursorChars: "the `cursor` of a listing",
  filePathChars:
    "a file path in the job folder (`inputs[].path`, `outputs[]`, `checkpointDir`): S3 keys are at most 1024 bytes",
  urlChars: "an input `url`, `serve.healthPath`, an endpoint an agent reports",
  scriptChars: "`run` and `setup`, each",
  envVars: "variables in `env`",
  envNameChars: "an `env` variable's name",
  envValueChars: "an `env` variable's value",
  instanceTypes: "entries in `instance.types`",
  workers: "`workers`: the instances of a multi-node job, taken all or none",
  instanceTypeChars: "an instance type's name",
  regionChars: "`instance.region`",
  imageChars: "`image`",
  inputs: "entries in `inputs`",
  outputs: "entries in `outputs`",
  retryRulesBytes:
    "`retryRules`, in bytes of their JSON: they are stored twice, in the spec and in the job's retry policy",
  taskTokenChars:
    "the task token an agent reports with: the workflow's (at most 2048 characters) in an envelope",
  errorChars: "a task failure's error name (Step Functions' limit)",
  causeChars: "a task failure's cause (Step Functions' limit)",
  envHashes: "env hashes an agent's poll says its disk has cached",
  envHashChars: "one such env hash",
  descriptionChars: "a replay's `description`: why it is run again (it is stored with the job)",
};

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

/** A limit as people read it: `256 KiB`, `255 characters`, `16`. */
export const formatLimit = (limit: Limit): string => {
  const value = LIMITS[limit];
  if (limit.endsWith("Bytes")) return formatBytes(value);
  if (limit.endsWith("Depth")) return `${value} levels`;
  return limit.endsWith("Chars") ? `${value} characters` : String(value);
};

/** The limits on whole bodies, and what to do instead of sending more. */
export type BodyLimit = "jsonBodyBytes" | "inputBytes" | "resultFileBytes";
const BODY_HINTS: Partial<Record<BodyLimit, string>> = {
  inputBytes: "give larger data to the job as an input url",
};

/** A body over its limit, in the words of an API error: the API and the SDK say the same. */
export const bodyTooLarge = (limit: BodyLimit) => {
  const hint = BODY_HINTS[limit];
  return {
    message: `the body is larger than ${formatBytes(LIMITS[limit])}${hint ? `: ${hint}` : ""}`,
    fields: [{ field: "(body)", message: `at most ${LIMITS[limit]} bytes` }],
  };
};
