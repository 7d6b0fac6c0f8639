import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { type JobSpecInput, parseJobSpec } from "../../lambdas/domain/job-spec.ts";
import type { GpuctlClient } from "../../sdk/client.ts";
import {
  DEFAULT_RESULTS_DIR,
  downloadOutputs,
  followJob,
  reportNotCompleted,
} from "./follow-job.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect, EXIT_FAILED, EXIT_USAGE, printError } from "./run.ts";

interface SubmitOptions {
  file: string;
  wait?: true;
  output: OutputFormat;
  results?: string;
}

type SpecInput = NonNullable<JobSpecInput["inputs"]>[number];

/** A spec that cannot be sent: each line is `FILE: field: message` or `FILE: message`. */
export class SpecFileError extends Error {
  readonly lines: string[];

  constructor(lines: string[]) {
    super(lines.join("\n"));
    this.lines = lines;
  }
}

/** Reads and validates the spec file locally, so a bad spec sends nothing. */
const readSpec = async (file: string): Promise<JobSpecInput> => {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new SpecFileError([`${file}: cannot read: ${(error as Error).message}`]);
  }
  let document: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so this reads both.
    document = parseYaml(text);
  } catch (error) {
    throw new SpecFileError([`${file}: ${(error as Error).message.trim()}`]);
  }
  const parsed = parseJobSpec(document);
  if (!parsed.ok) {
    throw new SpecFileError(
      parsed.errors.map(({ field, message }) => `${file}: ${field}: ${message}`),
    );
  }
  // The document as written, not the parsed spec: the control plane applies the defaults.
  return document as JobSpecInput;
};

/**
 * Replaces each `{ file, path }` input with `{ sha256, path }` once the file is uploaded. Every
 * file is read before anything is uploaded, so a missing one sends nothing.
 */
const uploadFileInputs = async (
  client: GpuctlClient,
  specFile: string,
  spec: JobSpecInput,
): Promise<JobSpecInput> => {
  if (!spec.inputs?.some((input) => "file" in input)) return spec;
  const base = dirname(specFile);
  const contents = new Map<string, Uint8Array>();
  const problems: string[] = [];
  for (const [index, input] of spec.inputs.entries()) {
    if (!("file" in input)) continue;
    const local = resolve(base, input.file);
    if (contents.has(local)) continue;
    try {
      contents.set(local, await readFile(local));
    } catch (error) {
      problems.push(`${specFile}: inputs.${index}.file: cannot read: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new SpecFileError(problems);
  const hashes = new Map<string, string>();
  for (const [local, bytes] of contents) {
    hashes.set(local, (await client.uploadInput(bytes)).sha256);
  }
  const inputs = spec.inputs.map((input): SpecInput => {
    if (!("file" in input)) return input;
    return { sha256: hashes.get(resolve(base, input.file)) ?? "", path: input.path };
  });
  return { ...spec, inputs };
};

/**
 * The spec file read and validated locally (and put to `check`), with its `file:` inputs
 * uploaded: the spec to send and the client to send it with. A spec that cannot be sent has
 * its lines printed, and nothing is sent (undefined).
 */
export const prepareSpec = async (
  file: string,
  check: (spec: JobSpecInput) => void = () => {},
): Promise<{ client: GpuctlClient; spec: JobSpecInput } | undefined> => {
  try {
    const read = await readSpec(file);
    check(read);
    const client = connect();
    return { client, spec: await uploadFileInputs(client, file, read) };
  } catch (error) {
    if (!(error instanceof SpecFileError)) throw error;
    process.stderr.write(`${error.lines.join("\n")}\n`);
    return undefined;
  }
};

const submit = async (options: SubmitOptions): Promise<number> => {
  // Job Create runs from here: reading the spec and uploading its inputs are part of it.
  const preparedSince = new Date();
  if (options.results !== undefined && !options.wait) {
    printError("--results applies only with --wait");
    return EXIT_USAGE;
  }
  const json = options.output === "json";
  // With --output json, stdout carries only the JobView; progress goes to stderr.
  const progress = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const prepared = await prepareSpec(options.file);
  if (!prepared) return EXIT_USAGE;
  const { client, spec } = prepared;
  const submitted = await client.submitJob(spec, { idempotencyKey: randomUUID(), preparedSince });
  if (!options.wait) {
    if (json) printJson(submitted);
    else progress(submitted.id);
    return 0;
  }
  progress(submitted.id);
  // The live line shares stdout with the phases; with --output json stdout is the JobView's.
  const live = !json && process.stdout.isTTY ? { live: process.stdout } : {};
  const job = await followJob(client, submitted, progress, live);
  if (job.phase === "COMPLETED") {
    const { folder, files } = await downloadOutputs(
      client,
      job.id,
      options.results ?? DEFAULT_RESULTS_DIR,
    );
    const count = `${files} output${files === 1 ? "" : "s"}`;
    progress(files === 0 ? "no outputs to download" : `${count} downloaded to ${folder}/`);
  } else reportNotCompleted(job, progress);
  if (json) printJson(job);
  return job.phase === "COMPLETED" ? 0 : EXIT_FAILED;
};

/** `gpuctl submit -f FILE`: validate a spec locally, upload its files, submit it. */
export const registerSubmit = (program: Command): void => {
  program
    .command("submit")
    .description("validate and submit a job spec (YAML or JSON); print the job id")
    .requiredOption("-f, --file <file>", "the job spec, YAML or JSON")
    .option("-w, --wait", "follow the job until it ends; when it completes, download its outputs")
    .addOption(outputOption())
    .option(
      "--results <dir>",
      `with --wait: where the outputs go, under <dir>/<jobId>/ (default: ${DEFAULT_RESULTS_DIR})`,
    )
    .addHelpText(
      "after",
      examples([
        ["gpuctl submit -f examples/train.yaml", "submit it; print the job id"],
        [
          "gpuctl submit -f examples/train.yaml --wait",
          "follow it to the end, then download its outputs",
        ],
        ["gpuctl submit -f job.json --wait --results ./out", "the outputs under ./out/<jobId>/"],
        ["gpuctl submit -f examples/train.yaml -o json | jq -r .id"],
      ]),
    )
    .action(action(submit));
};
