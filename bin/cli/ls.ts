import { type Command, InvalidArgumentError } from "commander";
import type { JobView, Page } from "../../sdk/api-types.ts";
import { renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { age, cell, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";

export const DEFAULT_LIMIT = 20;
/** The API's largest page. */
const PAGE_SIZE = 100;

export const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError("must be a positive integer");
  }
  return number;
};

/**
 * Up to `limit` items of a paged listing, following its cursor. A filtered listing may
 * answer a short or empty page with a cursor: only a page without one is the last.
 */
export const firstItems = async <T>(
  limit: number,
  list: (page: { limit: number; cursor?: string }) => Promise<Page<T>>,
): Promise<T[]> => {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({
      limit: Math.min(PAGE_SIZE, limit - items.length),
      ...(cursor !== undefined && { cursor }),
    });
    items.push(...page.items.slice(0, limit - items.length));
    cursor = page.cursor;
  } while (cursor !== undefined && items.length < limit);
  return items;
};

/** The jobs table: one row per job, newest first. */
export const jobsTable = (jobs: JobView[], now: number = Date.now()) => ({
  headers: ["id", "name", "kind", "phase", "reason", "age"],
  rows: jobs.map((job) => [
    job.id,
    job.name,
    job.kind,
    job.phase,
    cell(job.reason),
    age(job.createdAt, now),
  ]),
});

/** `gpuctl ls`: the newest jobs, following the API's cursor up to --limit. */
export const registerLs = (program: Command): void => {
  program
    .command("ls")
    .description("list jobs, newest first")
    .addOption(outputOption())
    .option("--limit <n>", "show at most N jobs", positiveInteger, DEFAULT_LIMIT)
    .addHelpText(
      "after",
      examples([
        ["gpuctl ls", "your newest jobs"],
        ["gpuctl ls --limit 5", "the five newest"],
        ["gpuctl ls -o json | jq -r '.[].id'"],
      ]),
    )
    .action(
      action(async ({ output, limit }: { output: OutputFormat; limit: number }) => {
        const client = connect();
        const jobs = await firstItems(limit, (page) => client.listJobs(page));
        if (output === "json") printJson(jobs);
        else if (jobs.length === 0) process.stdout.write("no jobs\n");
        else process.stdout.write(`${renderText(jobsTable(jobs))}\n`);
        return 0;
      }),
    );
};
