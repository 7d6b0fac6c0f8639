import type { AttemptFailureReason } from "./phases.ts";

/**
 * What to do with a failed attempt, in the spirit of AWS Batch `evaluateOnExit` and
 * Kubernetes `podFailurePolicy`: `retry` counts against `backoffLimit`, `ignore` retries
 * without counting, `fail` ends the job at once.
 */
export type RetryAction = "retry" | "fail" | "ignore";

export interface RetryRule {
  action: RetryAction;
  /** Matches when the exit code is (In) or is not (NotIn) one of the values. */
  onExitCodes?: { operator: "In" | "NotIn"; values: number[] } | undefined;
  /** Matches when the failure reason is one of these. */
  onReasons?: AttemptFailureReason[] | undefined;
}

export interface RetryPolicy {
  /** Counted retries allowed after the first attempt (Run:ai `--backoffLimit`). */
  backoffLimit: number;
  /** Evaluated in order; the first rule whose conditions all match decides. */
  rules: RetryRule[];
}

export interface Failure {
  reason: AttemptFailureReason;
  exitCode?: number;
}

/** Run:ai's and Kubernetes' default backoffLimit. */
export const DEFAULT_BACKOFF_LIMIT = 6;

/** A command that cannot start will not start on the next attempt either. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  backoffLimit: DEFAULT_BACKOFF_LIMIT,
  rules: [{ action: "fail", onReasons: ["CONTAINER_CANNOT_RUN"] }],
};

const ruleMatches = (rule: RetryRule, failure: Failure): boolean => {
  if (rule.onReasons && !rule.onReasons.includes(failure.reason)) return false;
  if (rule.onExitCodes) {
    if (failure.exitCode === undefined) return false;
    const listed = rule.onExitCodes.values.includes(failure.exitCode);
    if (listed !== (rule.onExitCodes.operator === "In")) return false;
  }
  return true;
};

/** The action for a failure: the first matching rule's, else a counted retry. */
export const retryActionFor = (policy: RetryPolicy, failure: Failure): RetryAction =>
  policy.rules.find((rule) => ruleMatches(rule, failure))?.action ?? "retry";

/** Exit codes 126 (not executable) and 127 (not found) mean the command never ran. */
export const failureForExit = (exitCode: number): Failure => ({
  reason: exitCode === 126 || exitCode === 127 ? "CONTAINER_CANNOT_RUN" : "EXIT_CODE",
  exitCode,
});

const BACKOFF_BASE_S = 10;
const BACKOFF_CAP_S = 300;

/** Exponential back-off before retry number `retry` (1, 2, ...), capped as Kubernetes caps it. */
export const backoffDelayS = (retry: number): number =>
  Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** Math.max(0, retry - 1));
