import type { StateMachineName } from "../../../ports.ts";
import type { Deferred } from "./deferred.ts";
import type { Outcome } from "./outcomes.ts";
import type { TokenHolder } from "./task-tokens.ts";

export interface ExecutionEnd extends Outcome {
  machine: StateMachineName;
  name: string;
  executionId: string;
}

export interface Execution extends TokenHolder {
  machine: StateMachineName;
  name: string;
  id: string;
  /** Names of the states entered, in order: one per state transition. */
  statesEntered: string[];
  /** Set once stopping begins or the library settles; no handler may start after it. */
  closed: boolean;
  abort: () => void;
  ended: Deferred<ExecutionEnd>;
}

/** Every execution this runner started, by id (the execution ARN). */
export class Executions {
  readonly #byId = new Map<string, Execution>();

  has(executionId: string): boolean {
    return this.#byId.has(executionId);
  }

  add(execution: Execution): void {
    this.#byId.set(execution.id, execution);
  }

  get(executionId: string): Execution {
    const execution = this.#byId.get(executionId);
    if (!execution) throw new Error(`execution ${executionId} does not exist`);
    return execution;
  }

  /** Oldest first. */
  all(): Execution[] {
    return [...this.#byId.values()];
  }
}

export function stateMachineArn(machine: StateMachineName): string {
  return `arn:aws:states:local:000000000000:stateMachine:${machine}`;
}

export function executionArn(machine: StateMachineName, name: string): string {
  return `arn:aws:states:local:000000000000:execution:${machine}:${name}`;
}
