/**
 * Error names the workflow handlers throw and the state machines catch by name
 * (`ErrorEquals`), as AWS Lambda reports a thrown error's `name`.
 */
export const WORKFLOW_ERRORS = {
  /** No capacity in any of the job's instance types: the state retries later. */
  noCapacity: "gpuctl.NoCapacity",
  /**
   * No instance type of the job could be launched, or none had capacity until its wait ran
   * out; the job's phase says what comes next.
   */
  launchFailed: "gpuctl.LaunchFailed",
  /** The compute refused a call for its request rate: the state retries soon, not counting an attempt. */
  throttled: "gpuctl.Throttled",
  /** The job ended while the workflow was busy (canceled, completed, timed out). */
  jobEnded: "gpuctl.JobEnded",
  /** Sent to a waiting task when the user cancels or completes the job, or its deadline passes. */
  canceled: "gpuctl.Canceled",
  completed: "gpuctl.Completed",
  timedOut: "gpuctl.TimedOut",
  reviewRejected: "gpuctl.ReviewRejected",
  /** Sent to a waiting task when its job's instance went away (spot reclaim, shutdown, console). */
  instanceGone: "gpuctl.InstanceGone",
  /** A canceled job's instance could not be stopped or terminated: the release is retried. */
  closeFailed: "gpuctl.CloseFailed",
} as const;

export class WorkflowError extends Error {
  constructor(name: (typeof WORKFLOW_ERRORS)[keyof typeof WORKFLOW_ERRORS], message: string) {
    super(message);
    this.name = name;
  }
}
