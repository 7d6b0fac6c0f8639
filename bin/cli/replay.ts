import { randomUUID } from "node:crypto";
import { type Command, InvalidArgumentError } from "commander";
import type { JobView } from "../../sdk/api-types.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { downloadCheckpointsAndLogs } from "../../sdk/job-files.ts";
import { DEFAULT_RESULTS_DIR, followJob, reportNotCompleted } from "./follow-job.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect, EXIT_FAILED, EXIT_USAGE, printError } from "./run.ts";

interface ReplayOptions {
  description?: string;
  waitRequestS?: number;
  ckptDir?: string;
  logDir?: string;
  wait?: true;
  output: OutputFormat;
}

/** `--wait-request-s`: whole seconds, 1 to a day, as the API takes them. */
const waitRequestSeconds = (value: string): number => {
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1 || seconds > 86_400)
    throw new InvalidArgumentError("give whole seconds from 1 to 86400");
  return seconds;
};

/** Downloads the replay's checkpoints and logs, each where its option says, and says where they went. */
const downloadReplayFiles = async (
  client: GpuctlClient,
  job: JobView,
  options: ReplayOptions,
  progress: (line: string) => void,
): Promise<void> => {
  const files = await downloadCheckpointsAndLogs(client, job, {
    ckptDir: options.ckptDir ?? DEFAULT_RESULTS_DIR,
    logDir: options.logDir ?? DEFAULT_RESULTS_DIR,
  });
  const kinds = [
    { what: "checkpoint", got: files.checkpoints },
    { what: "log file", got: files.logs },
  ];
  for (const { what, got } of kinds) {
    if (!got) continue;
    const count = `${got.files} ${what}${got.files === 1 ? "" : "s"}`;
    progress(got.files === 0 ? `no ${what}s to download` : `${count} downloaded to ${got.folder}/`);
  }
};

const replay = async (jobId: string, options: ReplayOptions): Promise<number> => {
  if ((options.ckptDir !== undefined || options.logDir !== undefined) && !options.wait) {
    printError("--ckpt-dir and --log-dir apply only with --wait");
    return EXIT_USAGE;
  }
  const json = options.output === "json";
  // With --output json, stdout carries only the JobView; progress goes to stderr.
  const progress = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const client = connect();
  const submitted = await client.replayJob(jobId, {
    idempotencyKey: randomUUID(),
    ...(options.description !== undefined && { description: options.description }),
    ...(options.waitRequestS !== undefined && { waitRequestS: options.waitRequestS }),
  });
  if (!options.wait) {
    if (json) printJson(submitted);
    else progress(submitted.id);
    return 0;
  }
  progress(`${submitted.id}  (replay of ${jobId})`);
  const job = await followJob(client, submitted, progress);
  await downloadReplayFiles(client, job, options, progress);
  if (job.phase !== "COMPLETED") reportNotCompleted(job, progress);
  if (json) printJson(job);
  return job.phase === "COMPLETED" ? 0 : EXIT_FAILED;
};

/** `gpuctl replay JOB`: run one of your jobs again, as it was recorded (AIbro's `replay_job`). */
export const registerReplay = (program: Command): void => {
  program
    .command("replay")
    .description(
      "submit a new job from one of your jobs: its exact spec and the very inputs it ran on; print the new job's id",
    )
    .argument("<job>", "the recorded job's id")
    .option(
      "--description <text>",
      "why it is run again (the issue it reproduces); kept with the job",
    )
    .option(
      "--wait-request-s <seconds>",
      "how long to wait for spot capacity (1-86400; default 10000), instead of the recorded spec's",
      waitRequestSeconds,
    )
    .option(
      "-w, --wait",
      "follow the new job until it ends, then download its checkpoints and logs",
    )
    .option(
      "--ckpt-dir <dir>",
      `with --wait: where its checkpoints go, under <dir>/<jobId>/ (default: ${DEFAULT_RESULTS_DIR})`,
    )
    .option(
      "--log-dir <dir>",
      `with --wait: where its logs go, under <dir>/<jobId>/logs/ (default: ${DEFAULT_RESULTS_DIR})`,
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ['gpuctl replay job-1a2b3c4d5e6f --description "loss turns NaN at epoch 3"'],
        ["gpuctl replay job-1a2b3c4d5e6f --wait --ckpt-dir ./ckpt --log-dir ./logs"],
        ["gpuctl replay job-1a2b3c4d5e6f -o json | jq -r .id"],
      ]),
    )
    .action(action(replay));
};
