import { appendFileSync, readFileSync } from "node:fs";
import { ExecutionAlreadyExists, type StateMachineName } from "../../../ports.ts";
import type { Deferred } from "./deferred.ts";
import type { ExecutionStatus, Outcome } from "./outcomes.ts";
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
  /** The input as started, compared with a later start of the same name. */
  input: string;
  /** Names of the states entered, in order: one per state transition. */
  statesEntered: string[];
  /** Set once stopping begins or the library settles; no handler may start after it. */
  closed: boolean;
  /** A limit of Step Functions a state broke: the execution fails with this error. */
  breach: { error: string; cause: string } | undefined;
  abort: () => void;
  ended: Deferred<ExecutionEnd>;
}

type JournalEntry = { executionId: string; status: ExecutionStatus | "RUNNING" };

/**
 * Every execution this runner started, by id (the execution ARN), and with a journal file the
 * names earlier runs used: like Step Functions, a name is never reused. The journal also tells
 * which executions an earlier run left running: they did not survive it.
 */
export class Executions {
  readonly #byId = new Map<string, Execution>();
  readonly #earlier: ReadonlyMap<string, JournalEntry["status"]>;
  readonly #journal: string | undefined;

  constructor(journal: string | undefined) {
    this.#journal = journal;
    this.#earlier = journal ? readJournal(journal) : new Map();
  }

  /** Executions an earlier run started and never saw end: they died with it. */
  lostInEarlierRun(): string[] {
    return [...this.#earlier].flatMap(([id, status]) => (status === "RUNNING" ? [id] : []));
  }

  /**
   * The running execution this start repeats (same name, same input), or undefined when the
   * name is free; any other use of the name is ExecutionAlreadyExists.
   */
  repeated(executionId: string, input: string): Execution | undefined {
    const existing = this.#byId.get(executionId);
    if (existing && !existing.closed && existing.input === input) return existing;
    if (existing || this.#earlier.has(executionId)) throw new ExecutionAlreadyExists(executionId);
    return undefined;
  }

  add(execution: Execution): void {
    this.#byId.set(execution.id, execution);
    this.#record({ executionId: execution.id, status: "RUNNING" });
  }

  ended(end: ExecutionEnd): void {
    this.#record({ executionId: end.executionId, status: end.status });
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

  #record(entry: JournalEntry): void {
    if (this.#journal) appendFileSync(this.#journal, `${JSON.stringify(entry)}\n`);
  }
}

/** The last status each execution of the journal reached. */
function readJournal(path: string): Map<string, JournalEntry["status"]> {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const entries = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as JournalEntry);
  return new Map(entries.map((entry) => [entry.executionId, entry.status]));
}

export function stateMachineArn(machine: StateMachineName): string {
  return `arn:aws:states:local:000000000000:stateMachine:${machine}`;
}

export function executionArn(machine: StateMachineName, name: string): string {
  return `arn:aws:states:local:000000000000:execution:${machine}:${name}`;
}
