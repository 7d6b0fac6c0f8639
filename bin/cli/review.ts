import type { Command } from "commander";
import type { ReviewView } from "../../sdk/api-types.ts";
import { printPhase } from "./cancel.ts";
import { renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { DEFAULT_LIMIT, firstItems, positiveInteger } from "./ls.ts";
import { age, cell, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect, EXIT_USAGE } from "./run.ts";

const DECISIONS = ["start", "approve", "reject"] as const;

/** The reviews table: one row per job awaiting review, longest waiting first. */
export const reviewsTable = (reviews: ReviewView[], now: number = Date.now()) => ({
  headers: ["id", "name", "owner", "review", "instance types", "spot", "timeout", "waiting"],
  rows: reviews.map((review) => [
    review.id,
    review.name,
    review.ownerEmail ?? review.owner,
    review.review,
    review.instanceTypes.join(","),
    review.spot ? "spot" : "on-demand",
    cell(review.timeoutS === undefined ? undefined : `${review.timeoutS}s`),
    age(review.updatedAt, now),
  ]),
});

/**
 * `gpuctl review JOB --start|--approve|--reject`: a reviewer's step at the cost gate; and
 * `gpuctl reviews`: the jobs waiting for one.
 */
export const registerReview = (program: Command): void => {
  program
    .command("review")
    .description("review a job waiting at the cost gate: start the review, approve or reject it")
    .argument("<job>", "the job id")
    .option("--start", "mark the review as under way")
    .option("--approve", "let the job acquire a GPU")
    .option("--reject", "fail the job (REVIEW_REJECTED)")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl review JOB --start", "say you are looking at it"],
        ["gpuctl review JOB --approve", "let it acquire a GPU"],
        ["gpuctl review JOB --reject", "fail it as REVIEW_REJECTED"],
      ]),
    )
    .action(
      action(
        async (
          id: string,
          options: { start?: boolean; approve?: boolean; reject?: boolean; output: OutputFormat },
          command: Command,
        ) => {
          const chosen = DECISIONS.filter((decision) => options[decision]);
          const [decision] = chosen;
          if (chosen.length !== 1 || decision === undefined) {
            command.error("error: name exactly one of --start, --approve or --reject", {
              exitCode: EXIT_USAGE,
              code: "gpuctl.usage",
            });
          }
          printPhase(
            await connect().reviewJob(id, decision as (typeof DECISIONS)[number]),
            options.output,
          );
          return 0;
        },
      ),
    );

  program
    .command("reviews")
    .description("list the jobs of other users waiting at the cost gate (reviewers and admins)")
    .addOption(outputOption())
    .option("--limit <n>", "show at most N jobs", positiveInteger, DEFAULT_LIMIT)
    .addHelpText(
      "after",
      examples([
        ["gpuctl reviews", "the jobs waiting for you, longest waiting first"],
        ["gpuctl reviews --limit 5 -o json"],
      ]),
    )
    .action(
      action(async ({ output, limit }: { output: OutputFormat; limit: number }) => {
        const client = connect();
        const reviews = await firstItems(limit, (page) => client.listReviews(page));
        if (output === "json") printJson(reviews);
        else if (reviews.length === 0) process.stdout.write("no jobs await review\n");
        else process.stdout.write(`${renderText(reviewsTable(reviews))}\n`);
        return 0;
      }),
    );
};
