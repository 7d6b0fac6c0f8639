#!/usr/bin/env node
import { Command } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { registerCancel } from "./cli/cancel.ts";
import { registerComplete } from "./cli/complete.ts";
import { registerDeploy } from "./cli/deploy.ts";
import { registerDialects } from "./cli/dialects.ts";
import { registerEvents } from "./cli/events.ts";
import { registerInstances } from "./cli/instances.ts";
import { registerLogin } from "./cli/login.ts";
import { registerLogout } from "./cli/logout.ts";
import { registerLogs } from "./cli/logs.ts";
import { registerLs } from "./cli/ls.ts";
import { registerReplay } from "./cli/replay.ts";
import { registerReview } from "./cli/review.ts";
import { EXIT_USAGE } from "./cli/run.ts";
import { registerStatus } from "./cli/status.ts";
import { registerSubmit } from "./cli/submit.ts";
import { registerTimeline } from "./cli/timeline.ts";
import { registerToken } from "./cli/token.ts";
import { registerUser } from "./cli/user.ts";
import { registerWhoami } from "./cli/whoami.ts";

const program = new Command("gpuctl")
  .description("Run GPU training jobs and inference deployments on your AWS account")
  .version(packageJson.version)
  // Exit codes: 0 done, 1 the API refused or the job did not complete, 2 bad usage (help and
  // --version keep 0). Set before the commands are added, which inherit it.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE));

// A reader that closes the pipe early (`gpuctl dialects | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

registerDialects(program);
registerSubmit(program);
registerReplay(program);
registerDeploy(program);
registerLs(program);
registerStatus(program);
registerLogs(program);
registerEvents(program);
registerTimeline(program);
registerCancel(program);
registerComplete(program);
registerInstances(program);
registerReview(program);
registerLogin(program);
registerLogout(program);
registerWhoami(program);
registerToken(program);
registerUser(program);
// Loaded only here: its AWS SDK clients would slow every other verb's start.
(await import("./cli/admin.ts")).registerAdmin(program);

// Commander answers `--help` before it looks at the verb, so `gpuctl nosuch --help` would
// print the global help and exit 0: an unknown verb is an error, whatever its flags.
const verb = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
const known = program.commands.flatMap((command) => [command.name(), ...command.aliases()]);
if (verb !== undefined && verb !== "help" && !known.includes(verb))
  program.error(`error: unknown command '${verb}'`, { exitCode: EXIT_USAGE });

await program.parseAsync();
