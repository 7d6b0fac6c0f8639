import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import type { JobView } from "../../sdk/api-types.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { POLL_INTERVAL_MS, reportNotCompleted } from "./follow-job.ts";
import { examples } from "./help.ts";
import { clock, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, EXIT_FAILED, EXIT_USAGE } from "./run.ts";
import { prepareSpec, SpecFileError } from "./submit.ts";

interface DeployOptions {
  file: string;
  /** False with --no-wait; unset (or true with --wait) waits. */
  wait?: boolean;
  output: OutputFormat;
}

/** A training spec sent to `deploy` is a mistake of verb, told before anything is sent. */
const inferenceOnly = (file: string, spec: JobSpecInput): void => {
  const kind = spec.kind ?? "training";
  if (kind !== "inference")
    throw new SpecFileError([
      `${file}: kind: gpuctl deploy runs inference deployments (kind: inference), not kind: ${kind}; submit it with gpuctl submit -f ${file}`,
    ]);
};

/**
 * Polls the deployment until its agent reports it healthy (it has an `endpoint`) or it ends
 * without serving, printing each phase it is seen in.
 */
const untilServing = async (
  client: GpuctlClient,
  submitted: JobView,
  progress: (line: string) => void,
): Promise<JobView> => {
  let shown: string | undefined;
  for (;;) {
    const job = await client.getJob(submitted.id);
    if (job.phase !== shown)
      progress(`${clock()}  ${job.phase}${job.reason ? `  (${job.reason})` : ""}`);
    shown = job.phase;
    if (job.endpoint || job.terminal) return job;
    await sleep(POLL_INTERVAL_MS);
  }
};

const deploy = async (options: DeployOptions): Promise<number> => {
  const preparedSince = new Date();
  const json = options.output === "json";
  // With --output json, stdout carries only the JobView; progress goes to stderr.
  const progress = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const prepared = await prepareSpec(options.file, (spec) => inferenceOnly(options.file, spec));
  if (!prepared) return EXIT_USAGE;
  const { client, spec } = prepared;
  const submitted = await client.submitJob(spec, { idempotencyKey: randomUUID(), preparedSince });
  if (options.wait === false) {
    if (json) printJson(submitted);
    else progress(submitted.id);
    return 0;
  }
  progress(submitted.id);
  const job = await untilServing(client, submitted, progress);
  if (json) printJson(job);
  if (!job.endpoint) {
    progress(`${job.id} ended ${job.phase} before it served`);
    reportNotCompleted(job, progress);
    return EXIT_FAILED;
  }
  progress(`serving ${job.modelName} at ${job.endpoint}`);
  progress(`stop it with: gpuctl complete --model ${job.modelName}`);
  return 0;
};

/** `gpuctl deploy -f FILE`: an inference deployment, submitted and waited for until it serves. */
export const registerDeploy = (program: Command): void => {
  program
    .command("deploy")
    .description(
      "submit an inference deployment (kind: inference) and wait until it serves; print its endpoint",
    )
    .requiredOption("-f, --file <file>", "the deployment's spec, YAML or JSON")
    .option("-w, --wait", "wait until it serves, or ends without serving (the default)")
    .option("--no-wait", "print the job id and return once it is submitted")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl deploy -f examples/serve.yaml"],
        ["gpuctl deploy -f examples/serve.yaml -o json | jq -r .endpoint"],
        ["gpuctl complete --model linear-regression", "stops it"],
      ]),
    )
    .action(action(deploy));
};
