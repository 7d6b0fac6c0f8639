import { type Command, Option } from "commander";
import { LOG_STREAMS, type LogStream } from "../../lambdas/domain/logs.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import { examples } from "./help.ts";
import { action, connect } from "./run.ts";
import { TerminalText } from "./terminal-text.ts";

const STREAM_CHOICES = [...LOG_STREAMS, "all"] as const;
type StreamChoice = (typeof STREAM_CHOICES)[number];

interface LogsOptions {
  follow?: true;
  stream?: StreamChoice;
  raw?: true;
}

const SETUP_STREAMS = ["setup-stdout", "setup-stderr"] as const satisfies readonly LogStream[];

/** The streams shown: the job's own by default, the setup's too with `all`. */
const streamsOf = (choice: StreamChoice | undefined): readonly LogStream[] =>
  choice === undefined
    ? ["stdout", "stderr"]
    : choice === "all"
      ? [...SETUP_STREAMS, "stdout", "stderr"]
      : [choice];

/** Where a stream's text goes: a job's stderr to ours, so `2>` and pipes keep them apart. */
const outputOf = (stream: LogStream) =>
  stream.endsWith("stderr") ? process.stderr : process.stdout;

export interface LogOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * How one stream's text reaches `output`. A pipe or a file (or `raw`) gets it as the job
 * wrote it. A terminal gets it without its escape sequences and control characters but
 * line breaks, tabs and carriage returns (what a progress bar draws with): a job is
 * untrusted code, and a sequence would act on the terminal of whoever reads its logs.
 */
export const logWriter = (output: LogOutput, raw = false): ((text: string) => void) => {
  if (raw || !output.isTTY) return (text) => output.write(text);
  const filter = new TerminalText("\n\t\r");
  return (text) => output.write(filter.write(text));
};

type Write = (text: string) => void;

/** Writes what the stream holds now, chunk by chunk; answers whether it held anything. */
const printStream = async (client: GpuctlClient, id: string, stream: LogStream, write: Write) => {
  let wrote = false;
  for (let offset = 0; ; ) {
    const chunk = await client.jobLogs(id, { stream, offset });
    write(chunk.text);
    wrote ||= chunk.text !== "";
    if (!chunk.text || chunk.nextOffset >= chunk.size) return wrote;
    offset = chunk.nextOffset;
  }
};

/** Writes each stream as it grows, until the job has ended and every stream is read. */
const followStream = async (client: GpuctlClient, id: string, stream: LogStream, write: Write) => {
  let wrote = false;
  for await (const chunk of client.followLogs(id, { stream })) {
    write(chunk.text);
    wrote = true;
  }
  return wrote;
};

/** Writes the streams, or follows them; answers whether any held text. */
const showStreams = async (
  client: GpuctlClient,
  id: string,
  streams: readonly LogStream[],
  how: { follow: boolean; raw: boolean },
): Promise<boolean> => {
  const writerOf = (stream: LogStream) => logWriter(outputOf(stream), how.raw);
  if (how.follow) {
    const wrote = streams.map((stream) => followStream(client, id, stream, writerOf(stream)));
    return (await Promise.all(wrote)).includes(true);
  }
  let wrote = false;
  for (const stream of streams)
    wrote = (await printStream(client, id, stream, writerOf(stream))) || wrote;
  return wrote;
};

const logs = async (id: string, options: LogsOptions): Promise<number> => {
  const client = connect();
  const raw = options.raw === true;
  const streams = streamsOf(options.stream);
  const wrote = await showStreams(client, id, streams, { follow: options.follow === true, raw });
  // A job that failed in its env setup never ran: what the setup wrote says why.
  if (!wrote && options.stream === undefined)
    await showStreams(client, id, SETUP_STREAMS, { follow: false, raw });
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
      new Option(
        "--stream <stream>",
        "which stream (default: stdout and stderr, or the setup's when those are empty)",
      ).choices(STREAM_CHOICES),
    )
    .option(
      "--raw",
      "on a terminal too, write the job's bytes as written, escape sequences and all (a pipe or file always gets them so)",
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
