import type { Command } from "commander";
import { dialectRows } from "../../lambdas/domain/reachable.ts";
import { instanceDialectTable, jobDialectTable, renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption } from "./output.ts";

/** `gpuctl dialects`: how each canonical state reads in AIbro, Run:ai and ModelArts. */
export const registerDialects = (program: Command): void => {
  program
    .command("dialects")
    .description("print the canonical status model and its AIbro, Run:ai and ModelArts dialects")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl dialects", "every phase with its AIbro, Run:ai and ModelArts status"],
        ["gpuctl dialects -o json"],
      ]),
    )
    .action(({ output }: { output: OutputFormat }) => {
      const rows = dialectRows();
      if (output === "json") {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${renderText(jobDialectTable(rows))}\n\n${renderText(instanceDialectTable())}\n`,
      );
    });
};
