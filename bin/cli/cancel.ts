import type { Command } from "commander";
import type { JobView } from "../../sdk/api-types.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";

/** What cancel and complete print: the job and the phase it is now in. */
export const printPhase = (job: JobView, output: OutputFormat): void => {
  if (output === "json") printJson(job);
  else process.stdout.write(`${job.id}  ${job.phase}${job.reason ? `  (${job.reason})` : ""}\n`);
};

/** `gpuctl cancel JOB`. */
export const registerCancel = (program: Command): void => {
  program
    .command("cancel")
    .description("cancel a job; print the phase it moved to")
    .argument("<job>", "the job id")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl cancel JOB", "print the phase it moved to"],
        ["gpuctl cancel JOB -o json"],
      ]),
    )
    .action(
      action(async (id: string, { output }: { output: OutputFormat }) => {
        printPhase(await connect().cancelJob(id), output);
        return 0;
      }),
    );
};
