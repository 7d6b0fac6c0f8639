import type { Command } from "commander";
import { printPhase } from "./cancel.ts";
import { type OutputFormat, outputOption } from "./output.ts";
import { action, connect, EXIT_USAGE } from "./run.ts";

const DECISIONS = ["start", "approve", "reject"] as const;

/** `gpuctl review JOB --start|--approve|--reject`: a reviewer's step at the cost gate. */
export const registerReview = (program: Command): void => {
  program
    .command("review")
    .description("review a job waiting at the cost gate: start the review, approve or reject it")
    .argument("<job>", "the job id")
    .option("--start", "mark the review as under way")
    .option("--approve", "let the job acquire a GPU")
    .option("--reject", "fail the job (REVIEW_REJECTED)")
    .addOption(outputOption())
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
};
