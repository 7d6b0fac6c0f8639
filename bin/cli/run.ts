import { ApiRequestError, GpuctlClient, UnreachableError } from "../../sdk/client.ts";
import { ConfigError } from "../../sdk/config.ts";
import { PromptCancelled } from "./prompt.ts";
import { terminalText } from "./terminal-text.ts";

/**
 * Exit codes: 0 done, 1 the API refused or the job did not complete, 2 bad usage or spec,
 * 130 stopped with Ctrl-C at a prompt (128 + SIGINT, as a shell reports it).
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** The client for the configured control plane; a missing config surfaces as a ConfigError. */
export const connect = (): GpuctlClient => GpuctlClient.fromEnv();

/** An error's words may be the server's or a job's: shown without their escape sequences. */
export const printError = (message: string): void => {
  process.stderr.write(`gpuctl: ${terminalText(message, "\n\t")}\n`);
};

/** Prints an error as `gpuctl: message` plus one `  field: message` line per bad field. */
export const reportError = (error: unknown): number => {
  if (error instanceof ApiRequestError) {
    printError(error.message);
    for (const { field, message } of error.fields)
      process.stderr.write(`  ${terminalText(`${field}: ${message}`)}\n`);
    return EXIT_FAILED;
  }
  if (error instanceof PromptCancelled) {
    printError("cancelled");
    return EXIT_INTERRUPTED;
  }
  if (error instanceof UnreachableError || error instanceof ConfigError) {
    printError(error.message);
    return EXIT_FAILED;
  }
  printError(error instanceof Error ? error.message : String(error));
  if (process.env.GPUCTL_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`);
  }
  return EXIT_FAILED;
};

/**
 * Wraps a command's action: the exit code it returns, or the reported error's, becomes the
 * process's exit code (set, not forced, so buffered output is still written).
 */
export const action =
  <Args extends unknown[]>(run: (...args: Args) => Promise<number | undefined>) =>
  async (...args: Args): Promise<void> => {
    try {
      const code = await run(...args);
      if (code) process.exitCode = code;
    } catch (error) {
      process.exitCode = reportError(error);
    }
  };
