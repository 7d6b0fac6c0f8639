import type { Command } from "commander";
import { printPhase } from "./cancel.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption } from "./output.ts";
import { action, connect, EXIT_USAGE } from "./run.ts";

/** `gpuctl complete JOB` or `gpuctl complete --model NAME`: end an inference deployment (by JOB when both are given). */
export const registerComplete = (program: Command): void => {
  program
    .command("complete")
    .description("end an inference deployment, by job id or by the model it serves")
    .argument("[job]", "the deployment's job id")
    .option("--model <name>", "the model name the deployment serves")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl complete JOB", "end the deployment with this job id"],
        ["gpuctl complete --model linear-regression", "end your deployment serving that model"],
      ]),
    )
    .action(
      action(
        async (
          id: string | undefined,
          { model, output }: { model?: string; output: OutputFormat },
          command: Command,
        ) => {
          // Given both, the job id wins, as the seeds' `complete(job_id, model_name)` has it.
          if (id === undefined && model === undefined) {
            command.error("error: name JOB or --model NAME", {
              exitCode: EXIT_USAGE,
              code: "gpuctl.usage",
            });
          }
          const client = connect();
          const job =
            id !== undefined
              ? await client.completeJob(id)
              : await client.completeDeployment(model ?? "");
          printPhase(job, output);
          return 0;
        },
      ),
    );
};
