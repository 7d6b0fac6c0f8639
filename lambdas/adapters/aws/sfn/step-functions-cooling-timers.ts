import { ExecutionDoesNotExist, type SFNClient, StopExecutionCommand } from "@aws-sdk/client-sfn";
import type { CoolingTimers } from "../../../ports.ts";
import { executionArnOf } from "./step-functions-rules.ts";

export interface StepFunctionsCoolingTimersOptions {
  /** Its retry strategy retries throttling and 5xx answers (the SDK's standard one does). */
  client: SFNClient;
  /** The instance-cooling machine: the only one whose executions this stops. */
  stateMachineArn: string;
}

/** The `CoolingTimers` port on Step Functions: StopExecution on the instance-cooling machine. */
export class StepFunctionsCoolingTimers implements CoolingTimers {
  readonly #client: SFNClient;
  readonly #stateMachineArn: string;

  constructor(options: StepFunctionsCoolingTimersOptions) {
    this.#client = options.client;
    this.#stateMachineArn = options.stateMachineArn;
  }

  async stop(name: string, cause: string): Promise<void> {
    const executionArn = executionArnOf(this.#stateMachineArn, name);
    try {
      await this.#client.send(new StopExecutionCommand({ executionArn, cause }));
    } catch (error) {
      // Never started, or closed so long ago that Step Functions forgot it: nothing to stop.
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
    }
  }
}
