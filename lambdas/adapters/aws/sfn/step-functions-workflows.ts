import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  ExecutionAlreadyExists as SfnExecutionAlreadyExists,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { ExecutionAlreadyExists, type StateMachineName, type Workflows } from "../../../ports.ts";
import { checkStartRequest, checkTaskOutput, executionArnOf } from "./step-functions-rules.ts";

export interface StepFunctionsWorkflowsOptions {
  /** Its retry strategy retries throttling and 5xx answers (the SDK's standard one does). */
  client: SFNClient;
  stateMachineArns: Record<StateMachineName, string>;
}

/**
 * The `Workflows` port on Step Functions (Standard workflows). Requests Step Functions would
 * refuse are refused here first, with the local runner's errors; a report on a task that is
 * over is a no-op, as the port says.
 */
export class StepFunctionsWorkflows implements Workflows {
  readonly #client: SFNClient;
  readonly #arns: Record<StateMachineName, string>;

  constructor(options: StepFunctionsWorkflowsOptions) {
    this.#client = options.client;
    this.#arns = options.stateMachineArns;
  }

  async start(
    machine: StateMachineName,
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionId: string }> {
    checkStartRequest(name, input);
    const stateMachineArn = this.#arns[machine];
    try {
      const { executionArn } = await this.#client.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { executionId: executionArn ?? executionArnOf(stateMachineArn, name) };
    } catch (error) {
      if (error instanceof SfnExecutionAlreadyExists) {
        throw new ExecutionAlreadyExists(executionArnOf(stateMachineArn, name));
      }
      throw error;
    }
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    checkTaskOutput(output);
    const command = new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) });
    await ignoringLateReport(this.#client.send(command));
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    const command = new SendTaskFailureCommand({ taskToken, error, cause });
    await ignoringLateReport(this.#client.send(command));
  }

  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    await ignoringLateReport(this.#client.send(new SendTaskHeartbeatCommand({ taskToken })));
  }
}

async function ignoringLateReport(report: Promise<unknown>): Promise<void> {
  try {
    await report;
  } catch (error) {
    if (!isLateReport(error)) throw error;
  }
}

/**
 * Step Functions' answers to a report whose task is over (TaskTimedOut: timed out, or
 * reported already; TaskDoesNotExist: its execution closed) or whose token it never issued
 * (InvalidToken).
 */
function isLateReport(error: unknown): boolean {
  return (
    error instanceof TaskTimedOut ||
    error instanceof TaskDoesNotExist ||
    error instanceof InvalidToken
  );
}
