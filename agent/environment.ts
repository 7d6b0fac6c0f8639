/** What may pass from a process to those it starts: enough to run commands, and which GPUs to see. */
const INHERITED = [
  "PATH",
  "LANG",
  "LC_ALL",
  "TZ",
  "CUDA_VISIBLE_DEVICES",
  "NVIDIA_VISIBLE_DEVICES",
];

/**
 * The part of `env` a started process inherits. Everything else (tokens, the control
 * plane's settings and paths, HOME) is left behind; the starter adds what it means to give.
 */
export const inheritedEnv = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(
    INHERITED.flatMap((name) => {
      const value = env[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
