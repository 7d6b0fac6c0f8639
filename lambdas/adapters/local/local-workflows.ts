import { readFileSync } from "node:fs";
import type { RunOptions, StateMachine } from "aws-local-stepfunctions";
import type { StateMachineName, Workflows } from "../../ports.ts";
import { checkStartRequest, checkTaskOutput, overLimit } from "../aws/sfn/step-functions-rules.ts";
import {
  carriedLimits,
  type PreparedMachine,
  prepareMachine,
  type TaskSpec,
} from "./workflows/asl-rewrite.ts";
import { breachIn } from "./workflows/breaches.ts";
import { deferred } from "./workflows/deferred.ts";
import {
  type Execution,
  type ExecutionEnd,
  Executions,
  executionArn,
  stateMachineArn,
} from "./workflows/executions.ts";
import { NameJournal } from "./workflows/journal.ts";
import { lambdaEvent, lambdaResponse } from "./workflows/lambda-invoke.ts";
import {
  executionClosed,
  failed,
  namedError,
  type Outcome,
  succeeded,
  terminalError,
} from "./workflows/outcomes.ts";
import { claimTaskToken, TaskTokens, taskTokenSlot } from "./workflows/task-tokens.ts";

export type { ExecutionEnd } from "./workflows/executions.ts";
export type { ExecutionStatus } from "./workflows/outcomes.ts";

export interface TaskContext {
  /** Set for `.waitForTaskToken` tasks: the same token `$$.Task.Token` gives the state's Parameters. */
  taskToken?: string;
}

/** Runs one Task state locally: gets what the state's resource would get, returns its result. */
// biome-ignore lint/suspicious/noExplicitAny: each handler declares the input its state's Parameters build
export type TaskHandler = (input: any, context: TaskContext) => Promise<unknown>;

export interface LocalWorkflowsOptions {
  /** Path of each machine's .asl.json; starting a machine not listed here fails. */
  definitions: Partial<Record<StateMachineName, string>>;
  /** Replaces `${Name}` in the ASL text, as CloudFormation's DefinitionSubstitutions do. */
  substitutions: Record<string, string>;
  /** Keyed by Task state name; every Task state of every definition needs one. */
  handlers: Record<string, TaskHandler>;
  /** Milliseconds a Wait state waits instead of its own duration; undefined keeps it. */
  waitTimeOverrides?: (stateName: string) => number | undefined;
  /** Milliseconds before each retry of a state (one value, or one per retrier); undefined keeps its own. */
  retryIntervalOverrides?: (stateName: string) => number | number[] | undefined;
  /** Seconds a callback task with HeartbeatSeconds may go without one instead; undefined keeps its own. */
  heartbeatSecondsOverrides?: (stateName: string) => number | undefined;
  onExecutionEnd?: (end: ExecutionEnd) => void;
  /**
   * A file that keeps the names of the executions started, across restarts: as on Step
   * Functions, a name is never used twice. Without it, names are kept in memory only.
   */
  journal?: string;
  /** Where the runner says what it cannot do as Step Functions does; console.warn by default. */
  warn?: (message: string) => void;
}

type JsonValue = Parameters<StateMachine["run"]>[0];
type Overrides = NonNullable<RunOptions["overrides"]>;
type LocalHandler = NonNullable<Overrides["taskResourceLocalHandlers"]>[string];
type EventLogs = ReturnType<StateMachine["run"]>["eventLogs"];

/**
 * The `Workflows` port on aws-local-stepfunctions: runs the real ASL files in this process,
 * binds each Task state to a local handler by state name, and adds what the library lacks:
 * definition substitutions, task tokens with SendTask*, heartbeats, and Step Functions' rules
 * on names and data sizes. What it cannot do as Step Functions does, it says.
 */
export class LocalWorkflows implements Workflows {
  readonly #options: LocalWorkflowsOptions;
  readonly #machines = new Map<StateMachineName, PreparedMachine>();
  readonly #executions: Executions;
  readonly #tokens: TaskTokens;
  readonly #warn: (message: string) => void;

  constructor(options: LocalWorkflowsOptions) {
    this.#options = options;
    this.#warn = options.warn ?? ((message) => console.warn(`local workflows: ${message}`));
    const journal = new NameJournal(options.journal);
    this.#executions = new Executions(journal);
    this.#tokens = new TaskTokens(this.#warn);
    const { lost } = journal;
    if (lost.length > 0) {
      this.#warn(
        `${lost.length} execution(s) were still running when this runner last ended, and did not survive it (on Step Functions they would run on): ${lost.join(", ")}`,
      );
    }
    for (const [machine, path] of Object.entries(options.definitions)) {
      const text = readFileSync(path, "utf8");
      const prepared = prepareMachine(
        machine,
        text,
        options.substitutions,
        (stateName) => options.handlers[stateName] !== undefined,
      );
      this.#machines.set(machine as StateMachineName, prepared);
    }
  }

  async start(
    machine: StateMachineName,
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionId: string }> {
    const prepared = this.#machines.get(machine);
    if (!prepared) throw new Error(`no definition for state machine ${machine}`);
    checkStartRequest(name, input);
    const executionId = executionArn(machine, name);
    if (!this.#executions.repeated(executionId, JSON.stringify(input))) {
      this.#run(prepared, machine, name, executionId, input);
    }
    return { executionId };
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    checkTaskOutput(output);
    // Through JSON, as the API carries it: the execution never shares objects with the caller.
    this.#tokens.succeed(taskToken, JSON.parse(JSON.stringify(output)));
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    this.#tokens.fail(taskToken, namedError(error, cause));
  }

  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    this.#tokens.heartbeat(taskToken);
  }

  /**
   * Aborts the execution named `name`, as StopExecution does, and resolves once it has
   * ended; one that has closed already or was never started is left as it is.
   */
  async abort(machine: StateMachineName, name: string): Promise<void> {
    const execution = this.#executions.find(executionArn(machine, name));
    if (!execution || execution.closed) return;
    this.#close(execution);
    execution.abort();
    await execution.ended.promise;
  }

  /** Resolves when the execution has ended, however it ended; never rejects for a known id. */
  async whenDone(executionId: string): Promise<ExecutionEnd> {
    return this.#executions.get(executionId).ended.promise;
  }

  /** States entered so far, those inside Map and Parallel states included. */
  transitions(executionId: string): number {
    return this.#executions.get(executionId).statesEntered.length;
  }

  /**
   * The names of the states entered so far, in order, those inside Map and Parallel states
   * included. A retry does not enter its state again, so a name seen twice means a loop.
   */
  statesEntered(executionId: string): string[] {
    return [...this.#executions.get(executionId).statesEntered];
  }

  /** Every execution started so far, oldest first. */
  executions(): Array<Pick<ExecutionEnd, "machine" | "name" | "executionId">> {
    return this.#executions.all().map(({ machine, name, id }) => ({
      machine,
      name,
      executionId: id,
    }));
  }

  /**
   * Aborts every running execution and resolves once all of them have ended. They do not
   * survive this runner, as they would survive anything on Step Functions: it says so.
   */
  async stopAll(): Promise<void> {
    const running = this.#executions.all().filter((execution) => !execution.closed);
    if (running.length > 0) {
      this.#warn(
        `aborting ${running.length} running execution(s), which do not survive this runner: ${running.map((execution) => execution.id).join(", ")}`,
      );
    }
    for (const execution of running) {
      execution.closed = true;
      execution.abort();
    }
    await Promise.all(running.map((execution) => execution.ended.promise));
  }

  #run(
    prepared: PreparedMachine,
    machine: StateMachineName,
    name: string,
    id: string,
    input: Record<string, unknown>,
  ): void {
    const execution: Execution = {
      machine,
      name,
      id,
      input: JSON.stringify(input),
      statesEntered: [],
      breach: undefined,
      closed: false,
      pendingToken: undefined,
      tokens: new Set(),
      abort: () => {},
      ended: deferred(),
    };
    // Registered before running: the first handler runs inside run() and may report back at once.
    this.#executions.add(execution);
    const run = prepared.stateMachine.run(input as JsonValue, {
      overrides: this.#overrides(prepared, execution),
      context: {
        Execution: { Id: id, Name: name },
        StateMachine: { Id: stateMachineArn(machine), Name: machine },
        Task: taskTokenSlot(execution),
      },
    });
    execution.abort = run.abort;
    const outcome = run.result.then(succeeded, failed).finally(() => this.#close(execution));
    const watched = this.#watch(prepared, run.eventLogs, execution);
    void Promise.all([outcome, watched]).then(([ended]) => this.#end(execution, ended));
  }

  #overrides(prepared: PreparedMachine, execution: Execution): Overrides {
    const handlers = [...prepared.tasks].map(([stateName, spec]) => [
      stateName,
      this.#bind(execution, stateName, spec),
    ]);
    return {
      taskResourceLocalHandlers: Object.fromEntries(handlers),
      waitTimeOverrides: definedFor([...prepared.waits.keys()], this.#options.waitTimeOverrides),
      retryIntervalOverrides: definedFor(
        prepared.retryStates,
        this.#options.retryIntervalOverrides,
      ),
    };
  }

  #bind(execution: Execution, stateName: string, spec: TaskSpec): LocalHandler {
    const handler = this.#options.handlers[stateName] as TaskHandler;
    const bound = (input: JsonValue): Promise<unknown> => {
      const { parameters, limits } = spec.carriesLimits
        ? carriedLimits(input, spec.limits)
        : { parameters: input, limits: spec.limits };
      const heartbeatSeconds =
        limits.heartbeatSeconds === undefined
          ? undefined
          : (this.#options.heartbeatSecondsOverrides?.(stateName) ?? limits.heartbeatSeconds);
      const event = spec.lambdaInvoke ? lambdaEvent(parameters) : parameters;
      if (!spec.callback) {
        const result = afterWatch(execution, () => handler(event, {}));
        return spec.lambdaInvoke ? result.then(lambdaResponse) : result;
      }
      const taskToken = claimTaskToken(execution);
      const result = this.#tokens.wait(execution, taskToken, { ...limits, heartbeatSeconds });
      const invoked = afterWatch(execution, () => handler(event, { taskToken })).then(
        () => result,
        (error: unknown) => {
          this.#tokens.drop(taskToken);
          throw error;
        },
      );
      // A report may arrive before the handler returns, as when an agent answers at once.
      return Promise.race([result, invoked]);
    };
    return (input) => {
      // The library re-enters a retried state even after an abort; a closed execution runs nothing.
      if (execution.closed) return Promise.reject(executionClosed());
      return bound(input).then((result) => {
        const over = overLimit(`the result of "${stateName}"`, result);
        if (over) throw terminalError("States.DataLimitExceeded", over);
        return result as JsonValue;
      });
    };
  }

  /** Fails the tasks still waiting so the library unwinds and clears its own timers. */
  #close(execution: Execution): void {
    execution.closed = true;
    this.#tokens.close(execution);
  }

  /**
   * Follows the states as they are entered and left, failing the execution as Step Functions
   * does where a state's input or output is over the data limit, and saying so where a Wait
   * asks for longer than the runner can time.
   */
  async #watch(prepared: PreparedMachine, eventLogs: EventLogs, execution: Execution) {
    for await (const event of eventLogs) {
      if (event.type === "StateEntered") execution.statesEntered.push(event.state.name);
      const breach = breachIn(event, prepared.waits, this.#options.waitTimeOverrides);
      if (breach && !execution.breach) {
        execution.breach = breach;
        if (breach.error === "States.Runtime") this.#warn(`${execution.id}: ${breach.cause}`);
        execution.closed = true;
        execution.abort();
      }
    }
  }

  #end(execution: Execution, outcome: Outcome): void {
    const end: ExecutionEnd = {
      machine: execution.machine,
      name: execution.name,
      executionId: execution.id,
      input: execution.input,
      ...(execution.breach ? { status: "FAILED", ...execution.breach } : outcome),
    };
    this.#executions.ended(end);
    execution.ended.resolve(end);
    this.#options.onExecutionEnd?.(end);
  }
}

function definedFor<T>(
  stateNames: string[],
  override: ((stateName: string) => T | undefined) | undefined,
): Record<string, T> {
  const entries = stateNames.flatMap((stateName) => {
    const value = override?.(stateName);
    return value === undefined ? [] : [[stateName, value] as const];
  });
  return Object.fromEntries(entries);
}

/**
 * Runs a handler once the watcher has seen every state event so far: the library enters the
 * next state and calls its handler in one synchronous step, before any event reaches the
 * watcher, and a state that breached a limit must not have its effects.
 */
function afterWatch(execution: Execution, call: () => Promise<unknown>): Promise<unknown> {
  return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    if (execution.closed) throw executionClosed();
    return call();
  });
}
