import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
} from "aws-local-stepfunctions";

export type ExecutionStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface Outcome {
  status: ExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
}

export function succeeded(output: unknown): Outcome {
  return { status: "SUCCEEDED", output };
}

/** How an execution the library settled with `error` ended, in Step Functions' words. */
export function failed(error: unknown): Outcome {
  if (error instanceof ExecutionAbortedError) return { status: "ABORTED" };
  if (error instanceof ExecutionTimeoutError) {
    return { status: "TIMED_OUT", error: "States.Timeout", cause: error.message };
  }
  const reason = error instanceof ExecutionError ? error.cause : error;
  if (reason instanceof Error) {
    return { status: "FAILED", error: reason.name, cause: reason.message };
  }
  return { status: "FAILED", error: "States.Runtime", cause: String(reason) };
}

export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * An error that ends the execution whatever its Retry and Catch say, as Step Functions'
 * terminal errors (States.Runtime, States.DataLimitExceeded) do: the library retries and
 * catches any error that does not say otherwise.
 */
export function terminalError(name: string, message: string): Error {
  return Object.assign(namedError(name, message), { isRetryable: false, isCatchable: false });
}

/** What a handler of an execution that is over gets: it only unwinds the library. */
export function executionClosed(): Error {
  return terminalError("Error", "Execution closed");
}
