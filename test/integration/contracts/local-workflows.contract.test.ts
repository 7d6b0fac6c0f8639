import { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";
import { agent, fixture, stopAfterEach } from "../workflows/harness.ts";
import { workflowsContract } from "./workflows.contract.ts";

const track = stopAfterEach();

workflowsContract(() => {
  const dispatch = agent();
  const workflows = track(
    new LocalWorkflows({
      definitions: { "job-lifecycle": fixture("callback") },
      substitutions: {},
      handlers: { "Run the job": dispatch.handler },
      // Each test ends by aborting what still runs, which the runner would say.
      warn: () => {},
    }),
  );
  const nameOf = (executionId: string) =>
    workflows.executions().find((execution) => execution.executionId === executionId)?.name;
  return {
    workflows,
    taskToken: async (executionId) => {
      // The fixture hands the task the execution's input; the contract names each job after it.
      for (let n = 0; ; n += 1) {
        const call = await dispatch.call(n);
        if (call.input.jobId === nameOf(executionId)) return call.taskToken;
      }
    },
    taskEnd: async (executionId) => {
      const end = await workflows.whenDone(executionId);
      if (end.status === "SUCCEEDED") return { output: (end.output as { run: unknown }).run };
      return { error: end.error ?? end.status };
    },
    started: () => workflows.executions().length,
  };
});
