import { randomUUID } from "node:crypto";
import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";

interface FakeExecution {
  input: string;
  taskToken: string;
  end?: { output?: unknown; error?: string };
  ended: Promise<{ output?: unknown; error?: string }>;
  close: (end: { output?: unknown; error?: string }) => void;
}

/**
 * Step Functions as StartExecution and the SendTask* calls see it, behind aws-sdk-client-mock:
 * each machine is one callback task, its token minted when the execution starts. Names,
 * inputs and tokens follow the service's rules: a running execution's very request returns
 * it, any other reuse of a name is ExecutionAlreadyExists, a token never issued is
 * InvalidToken, a report on a task that is over is TaskTimedOut.
 */
export const fakeStepFunctions = (client: SFNClient) => {
  const executions = new Map<string, FakeExecution>();
  const byToken = new Map<string, FakeExecution>();
  const mock = mockClient(client);

  mock.on(StartExecutionCommand).callsFake(({ stateMachineArn, name, input }) => {
    const executionArn = `${String(stateMachineArn).replace(":stateMachine:", ":execution:")}:${name}`;
    const existing = executions.get(executionArn);
    if (existing) {
      if (!existing.end && existing.input === input) return { executionArn, startDate: new Date() };
      throw new ExecutionAlreadyExists({
        $metadata: {},
        message: `Execution Already Exists: '${executionArn}'`,
      });
    }
    let close: FakeExecution["close"] = () => {};
    const ended = new Promise<{ output?: unknown; error?: string }>((resolve) => {
      close = resolve;
    });
    const execution: FakeExecution = { input, taskToken: randomUUID(), ended, close };
    execution.close = (end) => {
      execution.end = end;
      close(end);
    };
    executions.set(executionArn, execution);
    byToken.set(execution.taskToken, execution);
    return { executionArn, startDate: new Date() };
  });

  const waiting = (taskToken: string | undefined): FakeExecution => {
    const execution = byToken.get(String(taskToken));
    if (!execution) throw new InvalidToken({ $metadata: {}, message: "Invalid Token" });
    if (execution.end) {
      throw new TaskTimedOut({
        $metadata: {},
        message: "Task Timed Out: 'Provided task does not exist anymore'",
      });
    }
    return execution;
  };
  mock.on(SendTaskSuccessCommand).callsFake(({ taskToken, output }) => {
    waiting(taskToken).close({ output: JSON.parse(output) });
    return {};
  });
  mock.on(SendTaskFailureCommand).callsFake(({ taskToken, error }) => {
    waiting(taskToken).close({ error });
    return {};
  });
  mock.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => {
    waiting(taskToken);
    return {};
  });

  const get = (executionArn: string): FakeExecution => {
    const execution = executions.get(executionArn);
    if (!execution) throw new Error(`no execution ${executionArn}`);
    return execution;
  };
  return {
    taskToken: async (executionArn: string) => get(executionArn).taskToken,
    taskEnd: (executionArn: string) => get(executionArn).ended,
    started: () => executions.size,
  };
};
