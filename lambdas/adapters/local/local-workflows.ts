import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";
import type { StateMachineName, Workflows } from "../../ports.ts";

export interface TaskContext {
  /** Set for `.waitForTaskToken` tasks: the same token `$$.Task.Token` gives the state's Parameters. */
  taskToken?: string;
}

/** Runs one Task state locally: gets what the state's resource would get, returns its result. */
// biome-ignore lint/suspicious/noExplicitAny: each handler declares the input its state's Parameters build
export type TaskHandler = (input: any, context: TaskContext) => Promise<unknown>;

export type ExecutionStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface ExecutionEnd {
  machine: StateMachineName;
  name: string;
  executionId: string;
  status: ExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
}

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
  onExecutionEnd?: (end: ExecutionEnd) => void;
}

/** Like Step Functions' TaskDoesNotExist: the token was never issued, or its task is over. */
export class TaskDoesNotExist extends Error {
  override readonly name = "TaskDoesNotExist";
}

type JsonValue = Parameters<StateMachine["run"]>[0];
type Overrides = NonNullable<RunOptions["overrides"]>;
type LocalHandler = NonNullable<Overrides["taskResourceLocalHandlers"]>[string];
type EventLogs = ReturnType<StateMachine["run"]>["eventLogs"];
type Timer = ReturnType<typeof setTimeout>;

/** The fields of the parsed ASL this runner reads or rewrites. */
interface AslMachine {
  States: Record<string, AslState>;
}
interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: unknown;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[] }[];
  Branches?: AslMachine[];
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
}

/** How long a callback task may wait in all, and between heartbeats. */
interface Limits {
  timeoutSeconds: number;
  heartbeatSeconds: number | undefined;
}

interface TaskSpec {
  callback: boolean;
  lambdaInvoke: boolean;
  /** Callback tasks only: the static limits, before any *SecondsPath value replaces them. */
  limits: Limits;
  /** Set when Parameters were wrapped to carry *SecondsPath values (see carrySecondsPaths). */
  carriesLimits: boolean;
}

interface PreparedMachine {
  stateMachine: StateMachine;
  tasks: Map<string, TaskSpec>;
  waitStates: string[];
  retryStates: string[];
}

interface Execution {
  machine: StateMachineName;
  name: string;
  id: string;
  /** Names of the states entered, in order: one per state transition. */
  statesEntered: string[];
  /** Set once stopping begins or the library settles; no handler may start after it. */
  closed: boolean;
  /** Minted by `$$.Task.Token` while Parameters are evaluated, claimed by the task right after. */
  pendingToken: string | undefined;
  tokens: Set<string>;
  abort: () => void;
  ended: Deferred<ExecutionEnd>;
}

interface WaitingTask {
  execution: Execution;
  result: Deferred<unknown>;
  heartbeatSeconds: number | undefined;
  heartbeat: Timer | undefined;
  timeout: Timer;
}

type Outcome = Pick<ExecutionEnd, "status" | "output" | "error" | "cause">;

const CALLBACK_SUFFIX = ".waitForTaskToken";
const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
/** Step Functions' own default for a Task without TimeoutSeconds (the library's is 60 s). */
const AWS_TASK_TIMEOUT_SECONDS = 99_999_999;
/** setTimeout fires at once past 2^31-1 ms, so longer timeouts are capped at ~24.8 days. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
const SECONDS_PATHS = {
  TimeoutSecondsPath: "timeoutSeconds",
  HeartbeatSecondsPath: "heartbeatSeconds",
} as const;
const PLACEHOLDER = /\$\{(\w+)\}/g;

/**
 * The `Workflows` port on aws-local-stepfunctions: runs the real ASL files in this process,
 * binds each Task state to a local handler by state name, and adds what the library lacks:
 * definition substitutions, task tokens with SendTask*, heartbeats, and idempotent names.
 */
export class LocalWorkflows implements Workflows {
  readonly #options: LocalWorkflowsOptions;
  readonly #machines = new Map<StateMachineName, PreparedMachine>();
  readonly #executions = new Map<string, Execution>();
  readonly #waiting = new Map<string, WaitingTask>();

  constructor(options: LocalWorkflowsOptions) {
    this.#options = options;
    for (const [machine, path] of Object.entries(options.definitions)) {
      const text = readFileSync(path, "utf8");
      this.#machines.set(machine as StateMachineName, prepareMachine(machine, text, options));
    }
  }

  async start(
    machine: StateMachineName,
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionId: string }> {
    const prepared = this.#machines.get(machine);
    if (!prepared) throw new Error(`no definition for state machine ${machine}`);
    const executionId = executionArn(machine, name);
    if (!this.#executions.has(executionId)) this.#run(prepared, machine, name, executionId, input);
    return { executionId };
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    // Through JSON, as the API carries it: the execution never shares objects with the caller.
    this.#take(taskToken).result.resolve(JSON.parse(JSON.stringify(output)));
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    this.#take(taskToken).result.reject(namedError(error, cause));
  }

  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    this.#armHeartbeat(taskToken, this.#live(taskToken));
  }

  /** Resolves when the execution has ended, however it ended; never rejects for a known id. */
  async whenDone(executionId: string): Promise<ExecutionEnd> {
    return this.#execution(executionId).ended.promise;
  }

  /** States entered so far, those inside Map and Parallel states included. */
  transitions(executionId: string): number {
    return this.#execution(executionId).statesEntered.length;
  }

  /**
   * The names of the states entered so far, in order, those inside Map and Parallel states
   * included. A retry does not enter its state again, so a name seen twice means a loop.
   */
  statesEntered(executionId: string): string[] {
    return [...this.#execution(executionId).statesEntered];
  }

  /** Every execution started so far, oldest first. */
  executions(): Array<Pick<ExecutionEnd, "machine" | "name" | "executionId">> {
    return [...this.#executions.values()].map(({ machine, name, id }) => ({
      machine,
      name,
      executionId: id,
    }));
  }

  /** Aborts every running execution and resolves once all of them have ended. */
  async stopAll(): Promise<void> {
    const running = [...this.#executions.values()].filter((execution) => !execution.closed);
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
      statesEntered: [],
      closed: false,
      pendingToken: undefined,
      tokens: new Set(),
      abort: () => {},
      ended: deferred(),
    };
    // Registered before running: the first handler runs inside run() and may report back at once.
    this.#executions.set(id, execution);
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
    void Promise.all([outcome, countTransitions(run.eventLogs, execution)]).then(([ended]) =>
      this.#end(execution, ended),
    );
  }

  #overrides(prepared: PreparedMachine, execution: Execution): Overrides {
    const handlers = [...prepared.tasks].map(([stateName, spec]) => [
      stateName,
      this.#bind(execution, stateName, spec),
    ]);
    return {
      taskResourceLocalHandlers: Object.fromEntries(handlers),
      waitTimeOverrides: definedFor(prepared.waitStates, this.#options.waitTimeOverrides),
      retryIntervalOverrides: definedFor(
        prepared.retryStates,
        this.#options.retryIntervalOverrides,
      ),
    };
  }

  #bind(execution: Execution, stateName: string, spec: TaskSpec): LocalHandler {
    const handler = this.#options.handlers[stateName] as TaskHandler;
    return (input) => {
      // The library re-enters a retried state even after an abort; a closed execution runs nothing.
      if (execution.closed) return Promise.reject(executionClosed());
      const { parameters, limits } = spec.carriesLimits
        ? carriedLimits(input, spec.limits)
        : { parameters: input, limits: spec.limits };
      const event = spec.lambdaInvoke ? lambdaEvent(parameters) : parameters;
      if (!spec.callback) {
        const result = handler(event, {});
        return (spec.lambdaInvoke ? result.then(lambdaResponse) : result) as Promise<JsonValue>;
      }
      const taskToken = claimTaskToken(execution);
      const result = this.#wait(execution, taskToken, limits);
      const invoked = handler(event, { taskToken }).then(
        () => result,
        (error: unknown) => {
          this.#drop(taskToken);
          throw error;
        },
      );
      // A report may arrive before the handler returns, as when an agent answers at once.
      return Promise.race([result, invoked]) as Promise<JsonValue>;
    };
  }

  #wait(execution: Execution, taskToken: string, limits: Limits): Promise<unknown> {
    const task: WaitingTask = {
      execution,
      result: deferred(),
      heartbeatSeconds: limits.heartbeatSeconds,
      heartbeat: undefined,
      timeout: setTimeout(
        () => this.#expire(taskToken, "States.Timeout", `Task ran ${limits.timeoutSeconds} s`),
        timerMs(limits.timeoutSeconds),
      ),
    };
    this.#waiting.set(taskToken, task);
    execution.tokens.add(taskToken);
    this.#armHeartbeat(taskToken, task);
    return task.result.promise;
  }

  #armHeartbeat(taskToken: string, task: WaitingTask): void {
    const seconds = task.heartbeatSeconds;
    if (seconds === undefined) return;
    clearTimeout(task.heartbeat);
    task.heartbeat = setTimeout(
      () => this.#expire(taskToken, "States.HeartbeatTimeout", `No heartbeat for ${seconds} s`),
      timerMs(seconds),
    );
  }

  /** Retires the token at once, so a late report is refused, then fails its task. */
  #expire(taskToken: string, error: string, cause: string): void {
    const task = this.#take(taskToken);
    void libraryTimeoutError(error, cause).then((timeout) => task.result.reject(timeout));
  }

  #live(taskToken: string): WaitingTask {
    const task = this.#waiting.get(taskToken);
    if (!task) throw new TaskDoesNotExist("Task token does not exist or its task is over");
    return task;
  }

  /** Removes a live task so it is settled exactly once. */
  #take(taskToken: string): WaitingTask {
    const task = this.#live(taskToken);
    this.#drop(taskToken);
    return task;
  }

  #drop(taskToken: string): void {
    const task = this.#waiting.get(taskToken);
    if (!task) return;
    clearTimeout(task.heartbeat);
    clearTimeout(task.timeout);
    task.execution.tokens.delete(taskToken);
    this.#waiting.delete(taskToken);
  }

  /** Fails the tasks still waiting so the library unwinds and clears its own timers. */
  #close(execution: Execution): void {
    execution.closed = true;
    for (const taskToken of execution.tokens) {
      this.#take(taskToken).result.reject(executionClosed());
    }
  }

  #end(execution: Execution, outcome: Outcome): void {
    const end: ExecutionEnd = {
      machine: execution.machine,
      name: execution.name,
      executionId: execution.id,
      ...outcome,
    };
    execution.ended.resolve(end);
    this.#options.onExecutionEnd?.(end);
  }

  #execution(executionId: string): Execution {
    const execution = this.#executions.get(executionId);
    if (!execution) throw new Error(`execution ${executionId} does not exist`);
    return execution;
  }
}

function prepareMachine(
  machine: string,
  text: string,
  options: LocalWorkflowsOptions,
): PreparedMachine {
  const definition = JSON.parse(substitute(machine, text, options.substitutions)) as AslMachine;
  const prepared: Omit<PreparedMachine, "stateMachine"> = {
    tasks: new Map(),
    waitStates: [],
    retryStates: [],
  };
  for (const [stateName, state] of statesOf(definition)) {
    if (state.Type === "Wait") prepared.waitStates.push(stateName);
    if (state.Retry) prepared.retryStates.push(stateName);
    if (state.Type === "Task") {
      if (!options.handlers[stateName]) {
        throw new Error(`${machine}: no local handler for Task state "${stateName}"`);
      }
      prepared.tasks.set(stateName, prepareTask(machine, stateName, state));
    }
  }
  // The library validates the definition here, so a broken ASL file fails at startup.
  const stateMachine = new StateMachine(definition as StateMachineDefinition);
  return { ...prepared, stateMachine };
}

function substitute(machine: string, text: string, substitutions: Record<string, string>): string {
  const missing = new Set<string>();
  const result = text.replace(PLACEHOLDER, (placeholder, key: string) => {
    const value = substitutions[key];
    if (value === undefined) missing.add(key);
    return value ?? placeholder;
  });
  if (missing.size > 0) {
    throw new Error(`${machine}: no substitution for ${[...missing].join(", ")}`);
  }
  return result;
}

/** Every state, those inside Parallel branches and Map processors included. */
function* statesOf(machine: AslMachine): Generator<[string, AslState]> {
  for (const [stateName, state] of Object.entries(machine.States)) {
    yield [stateName, state];
    for (const nested of [...(state.Branches ?? []), state.ItemProcessor ?? state.Iterator]) {
      if (nested) yield* statesOf(nested);
    }
  }
}

/**
 * Reads what the runner needs from a Task state and rewrites what the library gets wrong: it
 * times tasks out after 60 s by default, and reads *SecondsPath on the input as the Parameters
 * left it. Callback tasks, which the library knows nothing of, are timed by the runner.
 */
function prepareTask(machine: string, stateName: string, state: AslState): TaskSpec {
  const callback = state.Resource?.endsWith(CALLBACK_SUFFIX) ?? false;
  const limits = {
    timeoutSeconds: Math.min(state.TimeoutSeconds ?? AWS_TASK_TIMEOUT_SECONDS, MAX_TIMER_SECONDS),
    heartbeatSeconds: state.HeartbeatSeconds,
  };
  if (!callback) {
    if (state.TimeoutSecondsPath !== undefined) {
      throw new Error(
        `${machine}: "${stateName}" uses TimeoutSecondsPath, supported locally on .waitForTaskToken tasks only`,
      );
    }
    state.TimeoutSeconds = limits.timeoutSeconds;
    return { callback, lambdaInvoke: isLambdaInvoke(state), limits, carriesLimits: false };
  }
  if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
    matchHeartbeatAsTimeout(state);
  }
  const carriesLimits = carrySecondsPaths(state);
  // The runner's own timer fails the task first; the library's must not fire before it.
  state.TimeoutSeconds = MAX_TIMER_SECONDS;
  return { callback, lambdaInvoke: isLambdaInvoke(state), limits, carriesLimits };
}

function isLambdaInvoke(state: AslState): boolean {
  return state.Resource?.startsWith(LAMBDA_INVOKE) ?? false;
}

/** On AWS, a retrier or catcher on States.Timeout also matches a heartbeat timeout. */
function matchHeartbeatAsTimeout(state: AslState): void {
  for (const rule of [...(state.Retry ?? []), ...(state.Catch ?? [])]) {
    const errors = rule.ErrorEquals;
    if (errors.includes("States.Timeout") && !errors.includes("States.HeartbeatTimeout")) {
      errors.push("States.HeartbeatTimeout");
    }
  }
}

/**
 * AWS reads *SecondsPath from the state's input; the Parameters are evaluated on that same
 * input just before the handler runs, so they carry the values: the Parameters become
 * `{ parameters: <the original>, timeoutSeconds.$: <path>, heartbeatSeconds.$: <path> }`.
 */
function carrySecondsPaths(state: AslState): boolean {
  const carried = Object.entries(SECONDS_PATHS).flatMap(([field, key]) => {
    const path = state[field as keyof typeof SECONDS_PATHS];
    return path === undefined ? [] : [[`${key}.$`, path] as const];
  });
  if (carried.length === 0) return false;
  state.Parameters = {
    ...(state.Parameters === undefined
      ? { "parameters.$": "$" }
      : { parameters: state.Parameters }),
    ...Object.fromEntries(carried),
  };
  delete state.TimeoutSecondsPath;
  delete state.HeartbeatSecondsPath;
  return true;
}

function carriedLimits(input: JsonValue, limits: Limits): { parameters: unknown; limits: Limits } {
  const { parameters, timeoutSeconds, heartbeatSeconds } = input as Record<string, unknown>;
  return {
    parameters,
    limits: {
      timeoutSeconds:
        positiveInteger("TimeoutSecondsPath", timeoutSeconds) ?? limits.timeoutSeconds,
      heartbeatSeconds:
        positiveInteger("HeartbeatSecondsPath", heartbeatSeconds) ?? limits.heartbeatSeconds,
    },
  };
}

function positiveInteger(field: string, value: unknown): number | undefined {
  if (value === undefined || (Number.isInteger(value) && (value as number) >= 1)) {
    return value as number | undefined;
  }
  // Like the library's own path checks: a definition error, neither retried nor caught.
  throw Object.assign(namedError("States.Runtime", `${field} gave ${JSON.stringify(value)}`), {
    isRetryable: false,
    isCatchable: false,
  });
}

/**
 * Makes `$$.Task.Token` mint the token of the callback task whose Parameters are being
 * evaluated: the library evaluates them and calls that task's handler in one synchronous step,
 * and the handler claims the token (claimTaskToken), so no other state can take it between.
 */
function taskTokenSlot(execution: Execution): { readonly Token: string } {
  return {
    get Token() {
      execution.pendingToken ??= randomUUID();
      return execution.pendingToken;
    },
  };
}

function claimTaskToken(execution: Execution): string {
  const taskToken = execution.pendingToken ?? randomUUID();
  execution.pendingToken = undefined;
  return taskToken;
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

async function countTransitions(eventLogs: EventLogs, execution: Execution): Promise<void> {
  for await (const event of eventLogs) {
    if (event.type === "StateEntered") execution.statesEntered.push(event.state.name);
  }
}

/** The optimized Lambda integration hands the function only its Payload... */
function lambdaEvent(parameters: unknown): unknown {
  return isObject(parameters) ? parameters.Payload : undefined;
}

/** ...and, without a callback, returns what the Invoke API answers. */
function lambdaResponse(payload: unknown): unknown {
  return { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function succeeded(output: unknown): Outcome {
  return { status: "SUCCEEDED", output };
}

function failed(error: unknown): Outcome {
  if (error instanceof ExecutionAbortedError) return { status: "ABORTED" };
  if (error instanceof ExecutionTimeoutError) {
    return { status: "TIMED_OUT", error: "States.Timeout", cause: error.message };
  }
  const reason = error instanceof ExecutionError ? error.cause : error;
  if (reason instanceof Error) {
    return { status: "FAILED", error: reason.name, cause: reason.message };
  }
  return { status: "FAILED", error: "States.Runtime", cause: String(reason) };
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** The library retries and catches any error that does not say otherwise; this one only unwinds. */
function executionClosed(): Error {
  return Object.assign(new Error("Execution closed"), { isRetryable: false, isCatchable: false });
}

type ErrorClass = new () => Error;
let statesTimeoutErrorClass: Promise<ErrorClass> | undefined;

/**
 * A timeout error the library treats as its own. It exempts only its unexported
 * StatesTimeoutError from States.TaskFailed (as AWS exempts every timeout), so the class is
 * taken, once per process, from a throwaway task that times out after 1 ms.
 */
async function libraryTimeoutError(name: string, message: string): Promise<Error> {
  statesTimeoutErrorClass ??= new StateMachine(
    {
      StartAt: "Time out",
      States: { "Time out": { Type: "Task", Resource: "local", TimeoutSeconds: 0.001, End: true } },
    },
    { validationOptions: { noValidate: true } },
  )
    .run(null, {
      overrides: { taskResourceLocalHandlers: { "Time out": () => new Promise(() => {}) } },
    })
    .result.then(
      () => {
        throw new Error("a task that never settles did not time out");
      },
      (error: ExecutionError) => (error.cause as Error).constructor as ErrorClass,
    );
  const error = new (await statesTimeoutErrorClass)();
  error.name = name;
  error.message = message;
  return error;
}

function timerMs(seconds: number): number {
  return Math.min(seconds, MAX_TIMER_SECONDS) * 1000;
}

function stateMachineArn(machine: StateMachineName): string {
  return `arn:aws:states:local:000000000000:stateMachine:${machine}`;
}

function executionArn(machine: StateMachineName, name: string): string {
  return `arn:aws:states:local:000000000000:execution:${machine}:${name}`;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/** Promise.withResolvers, which the ES2023 lib this project compiles against does not declare. */
function deferred<T>(): Deferred<T> {
  let resolve!: Deferred<T>["resolve"];
  let reject!: Deferred<T>["reject"];
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}
