import { MAX_TIMER_SECONDS } from "./timers.ts";

/** How a Wait state says how long it waits. */
export interface WaitSpec {
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
}

/** The paths the runner reads itself: `$.field`, `$.field.nested`. */
const SIMPLE_PATH = /^\$(\.\w+)+$/;

/** Refuses at load what the runner could never wait for, and paths it cannot read. */
export function checkWait(machine: string, stateName: string, wait: WaitSpec): void {
  if (wait.Seconds !== undefined && wait.Seconds > MAX_TIMER_SECONDS) {
    throw new Error(`${machine}: "${stateName}" waits ${wait.Seconds} s; ${beyond()}`);
  }
  const path = wait.SecondsPath ?? wait.TimestampPath;
  if (path !== undefined && !SIMPLE_PATH.test(path)) {
    throw new Error(
      `${machine}: "${stateName}" reads ${path}; locally a Wait reads $.field paths only`,
    );
  }
}

/**
 * Why the runner cannot wait as this state asks on `input`, or undefined when it can: its
 * timers end at ~24.8 days, and past that the library's would fire at once.
 */
export function waitBeyondTimers(
  wait: WaitSpec,
  input: unknown,
  nowMs: number,
): string | undefined {
  const seconds = secondsToWait(wait, input, nowMs);
  return seconds !== undefined && seconds > MAX_TIMER_SECONDS
    ? `the state waits ${Math.round(seconds)} s; ${beyond()}`
    : undefined;
}

function secondsToWait(wait: WaitSpec, input: unknown, nowMs: number): number | undefined {
  const timestamp = wait.Timestamp ?? (wait.TimestampPath && read(input, wait.TimestampPath));
  if (typeof timestamp === "string") return (Date.parse(timestamp) - nowMs) / 1000;
  const seconds = wait.Seconds ?? (wait.SecondsPath && read(input, wait.SecondsPath));
  return typeof seconds === "number" ? seconds : undefined;
}

function read(input: unknown, path: string): unknown {
  let value = input;
  for (const key of path.split(".").slice(1)) {
    value =
      typeof value === "object" && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  return value;
}

export function beyond(): string {
  return `the local runner's timers end at ${MAX_TIMER_SECONDS} s (~24.8 days), where Step Functions waits up to a year`;
}
