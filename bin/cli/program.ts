/** The `gpuctl` command and every verb under it, ready to parse. */
import { Command } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { registerCancel } from "./cancel.ts";
import { registerComplete } from "./complete.ts";
import { registerDeploy } from "./deploy.ts";
import { registerDialects } from "./dialects.ts";
import { registerEvents } from "./events.ts";
import { examples } from "./help.ts";
import { registerInstances } from "./instances.ts";
import { registerLogin } from "./login.ts";
import { registerLogout } from "./logout.ts";
import { registerLogs } from "./logs.ts";
import { registerLs } from "./ls.ts";
import { registerReplay } from "./replay.ts";
import { registerReview } from "./review.ts";
import { EXIT_USAGE } from "./run.ts";
import { registerStatus } from "./status.ts";
import { registerSubmit } from "./submit.ts";
import { registerTimeline } from "./timeline.ts";
import { registerToken } from "./token.ts";
import { registerUser } from "./user.ts";
import { registerWhoami } from "./whoami.ts";

/** Builds the program: the verbs, their options and their help. */
export const gpuctlProgram = async (): Promise<Command> => {
  const program = new Command("gpuctl")
    .description("Run GPU training jobs and inference deployments on your AWS account")
    .version(packageJson.version)
    // Exit codes: 0 done, 1 the API refused or the job did not complete, 2 bad usage (help and
    // --version keep 0). Set before the commands are added, which inherit it.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE))
    .addHelpText(
      "after",
      examples([
        ["gpuctl login --email alice@example.com", "sign in"],
        ["gpuctl submit -f examples/train.yaml --wait", "run a job, then download its outputs"],
        ["gpuctl ls", "your jobs"],
        ["gpuctl submit --help", "any verb's options and examples"],
      ]),
    );

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
  (await import("./admin.ts")).registerAdmin(program);
  return program;
};
