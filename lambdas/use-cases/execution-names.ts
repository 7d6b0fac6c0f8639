import { randomBytes } from "node:crypto";

/*
 * The names of the executions the control plane starts. A name is one attempt (see
 * Workflows.start); for the ids the control plane makes, each is a name Step Functions
 * accepts (validExecutionName), as test/unit/use-cases/execution-names.test.ts checks.
 */

/** A run of `startJobWorkflows` after recovery, whose first executions' names stay taken. */
export const recoveryRerun = (): string => `-recovered-${randomBytes(4).toString("hex")}`;

/** A job's lifecycle: the first attempt, or its rerun after recovery. */
export const lifecycleName = (jobId: string, rerun = ""): string => `${jobId}${rerun}`;

export const deadlineName = (jobId: string, rerun = ""): string => `${jobId}-deadline${rerun}`;

/** The attempt the job's version `version` scheduled after a failure. */
export const retryName = (jobId: string, version: number): string => `${jobId}-v${version}`;

/**
 * The one cooling timer of an instance's cooling period: found again by its name, so the
 * job that claims the instance stops it (see stopCoolingTimer).
 */
export const coolingTimerName = (instanceId: string, coolingEpoch: number): string =>
  `${instanceId}-cooling-${coolingEpoch}`;
