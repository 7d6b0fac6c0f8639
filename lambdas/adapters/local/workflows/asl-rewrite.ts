import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { isLambdaInvoke } from "./lambda-invoke.ts";
import { terminalError } from "./outcomes.ts";
import { MAX_TIMER_SECONDS } from "./timers.ts";
import { beyond, checkWait, type WaitSpec } from "./waits.ts";

/** The fields of the parsed ASL this runner reads or rewrites. */
interface AslMachine {
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}
interface AslState extends WaitSpec {
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
export interface Limits {
  timeoutSeconds: number;
  heartbeatSeconds: number | undefined;
}

export interface TaskSpec {
  callback: boolean;
  lambdaInvoke: boolean;
  /** Callback tasks only: the static limits, before any *SecondsPath value replaces them. */
  limits: Limits;
  /** Set when Parameters were wrapped to carry *SecondsPath values (see carrySecondsPaths). */
  carriesLimits: boolean;
}

export interface PreparedMachine {
  stateMachine: StateMachine;
  tasks: Map<string, TaskSpec>;
  waits: Map<string, WaitSpec>;
  retryStates: string[];
}

type JsonValue = Parameters<StateMachine["run"]>[0];

const CALLBACK_SUFFIX = ".waitForTaskToken";
/** Step Functions' own default for a Task without TimeoutSeconds (the library's is 60 s). */
const AWS_TASK_TIMEOUT_SECONDS = 99_999_999;
const SECONDS_PATHS = {
  TimeoutSecondsPath: "timeoutSeconds",
  HeartbeatSecondsPath: "heartbeatSeconds",
} as const;
const PLACEHOLDER = /\$\{(\w+)\}/g;

/**
 * Substitutes the definition's placeholders, finds what the runner must bind (Task states)
 * or may override (Wait and retrying states), and rewrites what the library gets wrong.
 */
export function prepareMachine(
  machine: string,
  text: string,
  substitutions: Record<string, string>,
  hasHandler: (stateName: string) => boolean,
): PreparedMachine {
  const definition = JSON.parse(substitute(machine, text, substitutions)) as AslMachine;
  if ((definition.TimeoutSeconds ?? 0) > MAX_TIMER_SECONDS) {
    throw new Error(`${machine}: TimeoutSeconds ${definition.TimeoutSeconds}; ${beyond()}`);
  }
  const prepared: Omit<PreparedMachine, "stateMachine"> = {
    tasks: new Map(),
    waits: new Map(),
    retryStates: [],
  };
  for (const [stateName, state] of statesOf(definition)) {
    if (state.Type === "Wait") {
      checkWait(machine, stateName, state);
      prepared.waits.set(stateName, state);
    }
    if (state.Retry) prepared.retryStates.push(stateName);
    if (state.Type === "Task") {
      if (!hasHandler(stateName)) {
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
  const lambdaInvoke = isLambdaInvoke(state.Resource);
  const limits = {
    timeoutSeconds: state.TimeoutSeconds ?? AWS_TASK_TIMEOUT_SECONDS,
    heartbeatSeconds: state.HeartbeatSeconds,
  };
  if (!callback) {
    if (state.TimeoutSecondsPath !== undefined) {
      throw new Error(
        `${machine}: "${stateName}" uses TimeoutSecondsPath, supported locally on .waitForTaskToken tasks only`,
      );
    }
    // A Lambda function runs 15 minutes at most, far within what the library can time.
    state.TimeoutSeconds = Math.min(limits.timeoutSeconds, MAX_TIMER_SECONDS);
    return { callback, lambdaInvoke, limits, carriesLimits: false };
  }
  if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
    matchHeartbeatAsTimeout(state);
  }
  const carriesLimits = carrySecondsPaths(state);
  // The runner's own timer fails the task first; the library's must not fire before it.
  state.TimeoutSeconds = MAX_TIMER_SECONDS;
  return { callback, lambdaInvoke, limits, carriesLimits };
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

/** The task's own Parameters and the limits its *SecondsPath values set. */
export function carriedLimits(
  input: JsonValue,
  limits: Limits,
): { parameters: unknown; limits: Limits } {
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
  throw terminalError("States.Runtime", `${field} gave ${JSON.stringify(value)}`);
}
