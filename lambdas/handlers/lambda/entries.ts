import type { EnvironmentKind } from "../../adapters/aws/environment.ts";

/**
 * Each Lambda's entry file, under lambdas/handlers/lambda/, by its function's name in the
 * stack (lib/constructs/functions.ts): a workflow task by the `${...Function}` placeholder
 * its ASL states invoke, whose handler is the task of that name.
 */
export const LAMBDA_ENTRIES = {
  AcquireInstanceFunction: "tasks/acquire-instance.ts",
  DispatchStepFunction: "tasks/dispatch-step.ts",
  RequestReviewFunction: "tasks/request-review.ts",
  SilentAgentFunction: "tasks/silent-agent.ts",
  TimeOutJobFunction: "tasks/time-out-job.ts",
  ReleaseInstanceFunction: "tasks/release-instance.ts",
  ExpireCoolingFunction: "tasks/expire-cooling.ts",
  ExpireStoppedFunction: "tasks/expire-stopped.ts",
  AbandonCoolingFunction: "tasks/abandon-cooling.ts",
  ApiFunction: "api.ts",
  BootstrapAdminFunction: "bootstrap-admin.ts",
  CoolingExecutionEndedFunction: "cooling-execution-ended.ts",
  Ec2EventsFunction: "ec2-events.ts",
  ReaperFunction: "reaper.ts",
  TeardownFunction: "teardown.ts",
} as const;

export type LambdaName = keyof typeof LAMBDA_ENTRIES;

/** The variables the API's entry reads itself, beside those of its ports: the instance role agents sign with. */
export const API_OWN_ENVIRONMENT = ["agentRole"] as const satisfies readonly EnvironmentKind[];
