import { randomUUID } from "node:crypto";
import type { Limits } from "./asl-rewrite.ts";
import { type Deferred, deferred } from "./deferred.ts";
import { libraryTimeoutError } from "./library-timeout.ts";
import { executionClosed, terminalError } from "./outcomes.ts";
import { MAX_TIMER_SECONDS, type Timer } from "./timers.ts";
import { beyond } from "./waits.ts";

/** The tokens of one execution: minted while Parameters are evaluated, then waited on. */
export interface TokenHolder {
  /** Minted by `$$.Task.Token` while Parameters are evaluated, claimed by the task right after. */
  pendingToken: string | undefined;
  tokens: Set<string>;
}

interface WaitingTask {
  holder: TokenHolder;
  result: Deferred<unknown>;
  heartbeatSeconds: number | undefined;
  heartbeat: Timer | undefined;
  timeout: Timer;
}

/**
 * The callback tasks waiting for SendTaskSuccess or SendTaskFailure, each with the timers
 * that fail it when it runs past its TimeoutSeconds or misses a heartbeat. A report for a
 * token no task waits on (never issued, or its task is over) changes nothing, as the
 * Workflows port says.
 */
export class TaskTokens {
  readonly #waiting = new Map<string, WaitingTask>();
  readonly #warn: (message: string) => void;

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  /** Waits for the token's report; rejects with the runner's timeout errors. */
  wait(holder: TokenHolder, taskToken: string, limits: Limits): Promise<unknown> {
    const task: WaitingTask = {
      holder,
      result: deferred(),
      heartbeatSeconds: limits.heartbeatSeconds,
      heartbeat: undefined,
      timeout: this.#timer(taskToken, "TimeoutSeconds", limits.timeoutSeconds, () =>
        this.#expire(taskToken, "States.Timeout", `Task ran ${limits.timeoutSeconds} s`),
      ),
    };
    this.#waiting.set(taskToken, task);
    holder.tokens.add(taskToken);
    this.#armHeartbeat(taskToken, task);
    return task.result.promise;
  }

  succeed(taskToken: string, output: unknown): void {
    this.#take(taskToken)?.result.resolve(output);
  }

  fail(taskToken: string, error: Error): void {
    this.#take(taskToken)?.result.reject(error);
  }

  heartbeat(taskToken: string): void {
    const task = this.#waiting.get(taskToken);
    if (task) this.#armHeartbeat(taskToken, task);
  }

  /** Forgets a task whose handler failed: nothing waits on its token any more. */
  drop(taskToken: string): void {
    const task = this.#waiting.get(taskToken);
    if (!task) return;
    clearTimeout(task.heartbeat);
    clearTimeout(task.timeout);
    task.holder.tokens.delete(taskToken);
    this.#waiting.delete(taskToken);
  }

  /** Fails the holder's tasks still waiting, so the library unwinds and clears its own timers. */
  close(holder: TokenHolder): void {
    for (const taskToken of holder.tokens) this.fail(taskToken, executionClosed());
  }

  #armHeartbeat(taskToken: string, task: WaitingTask): void {
    const seconds = task.heartbeatSeconds;
    if (seconds === undefined) return;
    clearTimeout(task.heartbeat);
    task.heartbeat = this.#timer(taskToken, "HeartbeatSeconds", seconds, () =>
      this.#expire(taskToken, "States.HeartbeatTimeout", `No heartbeat for ${seconds} s`),
    );
  }

  /**
   * Calls `expire` after `seconds`. Past what the runner can time, its task fails with
   * States.Runtime at the runner's limit, as loudly as it can, rather than time out early
   * as if that were the task's own limit (Step Functions' default TimeoutSeconds is ~3 years).
   */
  #timer(taskToken: string, field: string, seconds: number, expire: () => void): Timer {
    if (seconds <= MAX_TIMER_SECONDS) return setTimeout(expire, seconds * 1000);
    return setTimeout(
      () => {
        const message = `a task with ${field} ${seconds} waited ${MAX_TIMER_SECONDS} s; ${beyond()}`;
        this.#warn(message);
        this.fail(taskToken, terminalError("States.Runtime", message));
      },
      (MAX_TIMER_SECONDS - 1) * 1000,
    );
  }

  /** Retires the token at once, so a late report changes nothing, then fails its task. */
  #expire(taskToken: string, error: string, cause: string): void {
    const task = this.#take(taskToken);
    if (!task) return;
    void libraryTimeoutError(error, cause).then((timeout) => task.result.reject(timeout));
  }

  /** Removes a live task so it is settled exactly once; undefined when none waits on the token. */
  #take(taskToken: string): WaitingTask | undefined {
    const task = this.#waiting.get(taskToken);
    if (task) this.drop(taskToken);
    return task;
  }
}

/**
 * Makes `$$.Task.Token` mint the token of the callback task whose Parameters are being
 * evaluated: the library evaluates them and calls that task's handler in one synchronous step,
 * and the handler claims the token (claimTaskToken), so no other state can take it between.
 */
export function taskTokenSlot(holder: TokenHolder): { readonly Token: string } {
  return {
    get Token() {
      holder.pendingToken ??= randomUUID();
      return holder.pendingToken;
    },
  };
}

export function claimTaskToken(holder: TokenHolder): string {
  const taskToken = holder.pendingToken ?? randomUUID();
  holder.pendingToken = undefined;
  return taskToken;
}
