/** Runs the CLI as a child process, so an in-process fake API can answer it. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { isControlCharacter } from "../../../lambdas/domain/free-text.ts";

export const GPUCTL = join(import.meta.dirname, "../../../bin/gpuctl.ts");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export const gpuctl = (
  args: string[],
  options: { endpoint?: string; cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<Run> =>
  new Promise((resolve) => {
    const { GPUCTL_ENDPOINT, GPUCTL_TOKEN, ...inherited } = process.env;
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      // Never the developer's own ~/.gpuctl/config.json.
      GPUCTL_CONFIG: join(import.meta.dirname, "no-such-config.json"),
      ...(options.endpoint && { GPUCTL_ENDPOINT: options.endpoint }),
      ...options.env,
    };
    const child = execFile(
      process.execPath,
      [GPUCTL, ...args],
      { env, encoding: "utf8", ...(options.cwd && { cwd: options.cwd }) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    // What a script pipes in; nothing otherwise, so a read of stdin meets its end at once.
    child.stdin?.end(options.input ?? "");
  });

/** The control characters in what the CLI printed, but line breaks: a terminal would act on them. */
export const controlCharacters = (printed: string): string[] =>
  [...printed].filter((character) => isControlCharacter(character) && character !== "\n");
