#!/usr/bin/env node
import { gpuctlProgram } from "./cli/program.ts";
import { EXIT_USAGE } from "./cli/run.ts";

// A reader that closes the pipe early (`gpuctl dialects | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

const program = await gpuctlProgram();

// Commander answers `--help` before it looks at the verb, so `gpuctl nosuch --help` would
// print the global help and exit 0: an unknown verb is an error, whatever its flags.
const verb = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
const known = program.commands.flatMap((command) => [command.name(), ...command.aliases()]);
if (verb !== undefined && verb !== "help" && !known.includes(verb))
  program.error(`error: unknown command '${verb}'`, { exitCode: EXIT_USAGE });

await program.parseAsync();
