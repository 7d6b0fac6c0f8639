import type { Command } from "commander";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";

/** `gpuctl whoami`: whom the CLI's token signs in, and where. */
export const registerWhoami = (program: Command): void => {
  program
    .command("whoami")
    .description("show whom the CLI is signed in as (email and role) and at which endpoint")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl whoami", "email, role and endpoint"],
        ["gpuctl whoami -o json | jq -r .role"],
      ]),
    )
    .action(
      action(async ({ output }: { output: OutputFormat }) => {
        const client = connect();
        const caller = await client.whoami();
        if (output === "json") printJson({ ...caller, endpoint: client.endpoint });
        else process.stdout.write(`${caller.email} (${caller.role}) at ${client.endpoint}\n`);
        return 0;
      }),
    );
};
