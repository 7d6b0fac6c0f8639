import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bindTasks } from "../../../lambdas/adapters/local/bind-tasks.ts";
import { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";
import { stopAfterEach } from "./harness.ts";

const track = stopAfterEach();
const definitions = {
  "job-lifecycle": join(import.meta.dirname, "../../../statemachines/job-lifecycle.asl.json"),
};

/** What an agent reports at the end of each step, for the lifecycle to go on to the next. */
const REPORTS: Record<string, Record<string, unknown>> = {
  review: { approved: true },
  prepare: { phase: "GEARING_UP_ENV" },
  gearUp: { phase: "SENDING_MODEL_AND_DATA" },
  sendInputs: { phase: "TRAINING" },
  run: { phase: "RETURNING", exitCode: 0 },
  returnResults: { phase: "COMPLETED" },
};

const lambdaServiceError = () =>
  Object.assign(new Error("Rate exceeded"), { name: "Lambda.TooManyRequestsException" });

describe("the job lifecycle on the local runner", () => {
  it("retries each callback task whose Lambda failed with a service error, as it does the other tasks", async () => {
    const calls: string[] = [];
    let workflows: LocalWorkflows | undefined;
    /** Fails the first invocation of each step, then answers for the agent (or the reviewer). */
    const callback = async (payload: unknown) => {
      const { step = "review", taskToken } = payload as { step?: string; taskToken: string };
      calls.push(step);
      if (calls.filter((called) => called === step).length === 1) throw lambdaServiceError();
      setImmediate(() => void workflows?.sendTaskSuccess(taskToken, REPORTS[step] ?? {}));
    };
    workflows = track(
      new LocalWorkflows({
        definitions,
        ...bindTasks(definitions, {
          RequestReviewFunction: callback,
          DispatchStepFunction: callback,
          AcquireInstanceFunction: async () => ({ instanceId: "i-1", placement: "warm" }),
          SilentAgentFunction: async () => ({ restarted: false }),
          ReleaseInstanceFunction: async () => ({}),
        }),
        retryIntervalOverrides: () => 0,
      }),
    );

    const { executionId } = await workflows.start("job-lifecycle", "job-1", {
      jobId: "job-1",
      review: true,
    });
    const end = await workflows.whenDone(executionId);

    expect(end.status).toBe("SUCCEEDED");
    expect(end.output).not.toHaveProperty("error");
    expect(calls).toEqual(Object.keys(REPORTS).flatMap((step) => [step, step]));
    expect(workflows.statesEntered(executionId)).toEqual([
      "Does the job need review?",
      "Wait for review",
      "Acquire an instance",
      "Wait for the agent",
      "Is the env ready?",
      "Gear up the env",
      "Send model and data",
      "Run the job",
      "Did the run succeed?",
      "Return the results",
      "Free the instance",
    ]);
  });
});
