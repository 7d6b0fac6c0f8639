import { type Command, Option } from "commander";
import { LOG_STREAMS, type LogStream } from "../../lambdas/domain/logs.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { examples } from "./help.ts";
import { action, connect } from "./run.ts";

const STREAM_CHOICES = [...LOG_STREAMS, "all"] as const;
type StreamChoice = (typeof STREAM_CHOICES)[number];

interface LogsOptions {
  follow?: true;
  stream?: StreamChoice;
}

/** The streams shown: the job's own by default, the setup's too with `all`. */
const streamsOf = (choice: StreamChoice | undefined): readonly LogStream[] =>
  choice === undefined
    ? ["stdout", "stderr"]
    : choice === "all"
      ? ["setup-stdout", "setup-stderr", "stdout", "stderr"]
      : [choice];

/** Where a stream's text goes: a job's stderr to ours, so `2>` and pipes keep them apart. */
const outputOf = (stream: LogStream) =>
  stream.endsWith("stderr") ? process.stderr : process.stdout;

/** Writes what the stream holds now, chunk by chunk. */
const printStream = async (client: GpuctlClient, id: string, stream: LogStream) => {
  for (let offset = 0; ; ) {
    const chunk = await client.jobLogs(id, { stream, offset });
    outputOf(stream).write(chunk.text);
    if (!chunk.text || chunk.nextOffset >= chunk.size) return;
    offset = chunk.nextOffset;
  }
};

/** Writes each stream as it grows, until the job has ended and every stream is read. */
const followStream = async (client: GpuctlClient, id: string, stream: LogStream) => {
  for await (const chunk of client.followLogs(id, { stream })) outputOf(stream).write(chunk.text);
};

const logs = async (id: string, options: LogsOptions): Promise<number> => {
  const client = connect();
  const streams = streamsOf(options.stream);
  if (options.follow) await Promise.all(streams.map((stream) => followStream(client, id, stream)));
  else for (const stream of streams) await printStream(client, id, stream);
  return 0;
};

/** `gpuctl logs JOB [-f]`: a job's stdout and stderr, while it runs and after it ended. */
export const registerLogs = (program: Command): void => {
  program
    .command("logs")
    .description(
      "print a job's logs (its stdout, and its stderr to stderr), while it runs and after it ended, whatever its outcome",
    )
    .argument("<job>", "the job id")
    .option("-f, --follow", "keep printing as the job writes, until it has ended")
    .addOption(
      new Option("--stream <stream>", "which stream (default: stdout and stderr)").choices(
        STREAM_CHOICES,
      ),
    )
    .addHelpText(
      "after",
      examples([
        ["gpuctl logs JOB", "what the job wrote so far, stdout and stderr"],
        ["gpuctl logs -f JOB", "follow the logs of a running job until it ends"],
        ["gpuctl logs JOB --stream stderr", "why a failed job failed"],
        ["gpuctl logs JOB --stream all", "the env setup's logs too"],
        ["gpuctl logs JOB 2>/dev/null | tail", "the job's stdout only"],
      ]),
    )
    .action(action(logs));
};
