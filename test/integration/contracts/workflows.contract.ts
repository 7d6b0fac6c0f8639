import { describe, expect, it } from "vitest";
import {
  ExecutionAlreadyExists,
  InvalidExecutionName,
  PayloadTooLarge,
  type Workflows,
} from "../../../lambdas/ports.ts";
import { rejection } from "../workflows/harness.ts";

/** A Workflows adapter over a machine of one callback task, which its driver can watch. */
export interface WorkflowsUnderTest {
  workflows: Workflows;
  /** The token the execution's callback task was given, once it was. */
  taskToken(executionId: string): Promise<string>;
  /** How the execution's callback task ended: the output it was given, or its error's name. */
  taskEnd(executionId: string): Promise<{ output?: unknown; error?: string }>;
  /** How many executions started. */
  started(): number;
}

/** What the Workflows port promises, for any adapter: run once per adapter's test file. */
export const workflowsContract = (make: () => WorkflowsUnderTest) => {
  describe("the Workflows port's contract", () => {
    it("returns the running execution to a start of the same name and input", async () => {
      const { workflows, started } = make();
      const first = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      const again = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });

      expect(again).toEqual(first);
      expect(started()).toBe(1);
    });

    it("answers ExecutionAlreadyExists to the same name with another input", async () => {
      const { workflows, started } = make();
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });

      const refused = await rejection(
        workflows.start("job-lifecycle", "job-1", { jobId: "other" }),
      );

      expect(refused).toBeInstanceOf(ExecutionAlreadyExists);
      expect(refused).toMatchObject({ executionId });
      expect(started()).toBe(1);
    });

    it("answers ExecutionAlreadyExists to the same name and input once the execution closed", async () => {
      const { workflows, taskToken, taskEnd } = make();
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      await workflows.sendTaskSuccess(await taskToken(executionId), { exitCode: 0 });
      await taskEnd(executionId);

      const refused = await rejection(
        workflows.start("job-lifecycle", "job-1", { jobId: "job-1" }),
      );

      expect(refused).toBeInstanceOf(ExecutionAlreadyExists);
      expect(refused).toMatchObject({ executionId });
    });

    it("takes a report on a task that is over as a no-op: it resolves and changes nothing", async () => {
      const { workflows, taskToken, taskEnd } = make();
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      const token = await taskToken(executionId);
      await workflows.sendTaskSuccess(token, { exitCode: 0 });
      await taskEnd(executionId);

      await workflows.sendTaskSuccess(token, { exitCode: 1 });
      await workflows.sendTaskFailure(token, "gpuctl.Crashed", "too late");
      await workflows.sendTaskHeartbeat(token);

      expect(await taskEnd(executionId)).toEqual({ output: { exitCode: 0 } });
    });

    it("takes a report with a token never issued as a no-op: the task waits on", async () => {
      const { workflows, taskToken, taskEnd } = make();
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      const token = await taskToken(executionId);

      await workflows.sendTaskSuccess("never-issued", { exitCode: 1 });
      await workflows.sendTaskFailure("never-issued", "gpuctl.Crashed", "not this one");
      await workflows.sendTaskHeartbeat("never-issued");
      await workflows.sendTaskFailure(token, "gpuctl.Crashed", "exit 137");

      expect(await taskEnd(executionId)).toEqual({ error: "gpuctl.Crashed" });
    });

    it("refuses an input over 256 KiB and a bad name, starting nothing", async () => {
      const { workflows, started } = make();
      const input = { jobId: "é".repeat(128 * 1024) };

      expect(await rejection(workflows.start("job-lifecycle", "job-1", input))).toBeInstanceOf(
        PayloadTooLarge,
      );
      expect(await rejection(workflows.start("job-lifecycle", "job 1", {}))).toBeInstanceOf(
        InvalidExecutionName,
      );
      expect(started()).toBe(0);
    });

    it("refuses an output over 256 KiB, and the task waits on for its report", async () => {
      const { workflows, taskToken, taskEnd } = make();
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      const token = await taskToken(executionId);

      const refused = await rejection(
        workflows.sendTaskSuccess(token, { files: "x".repeat(256 * 1024) }),
      );
      await workflows.sendTaskSuccess(token, { files: 1 });

      expect(refused).toBeInstanceOf(PayloadTooLarge);
      expect(await taskEnd(executionId)).toEqual({ output: { files: 1 } });
    });
  });
};
