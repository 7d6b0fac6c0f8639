import { ExecutionAlreadyExists, type StateMachineName } from "../../../ports.ts";
import type { Breach } from "./breaches.ts";
import type { Deferred } from "./deferred.ts";
import type { NameJournal } from "./journal.ts";
import type { Outcome } from "./outcomes.ts";
import type { TokenHolder } from "./task-tokens.ts";

export interface ExecutionEnd extends Outcome {
  machine: StateMachineName;
  name: string;
  executionId: string;
  /** The input as started, JSON text, as Step Functions' status-change events carry it. */
  input: string;
}

export interface Execution extends TokenHolder {
  machine: StateMachineName;
  name: string;
  id: string;
  /** The input as started, compared with a later start of the same name. */
  input: string;
  /** Names of the states entered, in order: one per state transition. */
  statesEntered: string[];
  /** Set once stopping begins or the library settles; no handler may start after it. */
  closed: boolean;
  /** A limit of Step Functions a state broke: the execution fails with this error. */
  breach: Breach | undefined;
  abort: () => void;
  ended: Deferred<ExecutionEnd>;
}

/**
 * Every execution this runner started, by id (the execution ARN), and the names earlier runs
 * used (from the journal): like Step Functions, a name is never reused.
 */
export class Executions {
  readonly #byId = new Map<string, Execution>();
  readonly #journal: NameJournal;

  constructor(journal: NameJournal) {
    this.#journal = journal;
  }

  /**
   * The running execution this start repeats (same name, same input), or undefined when the
   * name is free; any other use of the name is ExecutionAlreadyExists.
   */
  repeated(executionId: string, input: string): Execution | undefined {
    const existing = this.#byId.get(executionId);
    if (existing && !existing.closed && existing.input === input) return existing;
    if (existing || this.#journal.earlier.has(executionId)) {
      throw new ExecutionAlreadyExists(executionId);
    }
    return undefined;
  }

  add(execution: Execution): void {
    this.#byId.set(execution.id, execution);
    this.#journal.record(execution.id, "RUNNING");
  }

  ended(end: ExecutionEnd): void {
    this.#journal.record(end.executionId, end.status);
  }

  get(executionId: string): Execution {
    const execution = this.find(executionId);
    if (!execution) throw new Error(`execution ${executionId} does not exist`);
    return execution;
  }

  /** This runner's execution of that id; an earlier run's, or one never started, is none. */
  find(executionId: string): Execution | undefined {
    return this.#byId.get(executionId);
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
