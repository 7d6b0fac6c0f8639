/**
 * statemachines/job-lifecycle.asl.json, stepped by hand: each execution stands at one of
 * the file's states, and a step carries that state out as Step Functions would (its
 * Parameters, its Lambda task, which is the real workflow task handler, its Retry, Catch,
 * ResultSelector and ResultPath, its Choice rules). A callback task then waits for a report
 * on its token. A property test decides what happens between steps (an agent's report, a
 * fault, the reaper), which a free-running engine would leave to timing. Only the ASL this
 * machine uses is understood; anything else throws, so a new construct is not run wrongly.
 */
import { readFileSync } from "node:fs";
import { workflowTasks } from "../../lambdas/handlers/workflow/tasks.ts";
import type { ControlPlane } from "../../lambdas/use-cases/control-plane.ts";

const DEFINITION = new URL("../../statemachines/job-lifecycle.asl.json", import.meta.url);

/** A Lambda that died after its side effects, as Lambda reports it: the state's Retry runs it again. */
export const LAMBDA_CRASH = "Lambda.ServiceException";

type Data = Record<string, unknown>;
interface Rule {
  ErrorEquals: string[];
  MaxAttempts?: number;
  Next?: string;
  ResultPath?: string;
}
interface State {
  Type: "Task" | "Choice" | "Wait" | "Pass" | "Succeed" | "Fail";
  Resource?: string;
  Parameters?: { FunctionName: string; Payload: Data };
  ResultSelector?: Data;
  ResultPath?: string | null;
  Retry?: Rule[];
  Catch?: Rule[];
  Next?: string;
  End?: boolean;
  HeartbeatSeconds?: number;
  TimeoutSeconds?: number;
  Choices?: Data[];
  Default?: string;
}
interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

type Report = { ok: true; output: Data } | { ok: false; error: string; cause?: string };

export interface Execution {
  name: string;
  jobId: string;
  at: string | "ended";
  data: Data;
  /** The callback task it waits on, and its report once one came. */
  token?: string;
  report?: Report;
  /** How an execution that ended did. */
  failed?: string;
}

const pathValue = (data: unknown, path: string): unknown => {
  if (!path.startsWith("$")) throw new Error(`unsupported path ${path}`);
  return path
    .split(".")
    .slice(1)
    .reduce<unknown>((value, key) => (value as Data | undefined)?.[key], data);
};

/** Parameters, Payload or ResultSelector: `key.$` takes a path, `$$.Task.Token` the task's token. */
const evaluate = (template: Data, data: unknown, token?: string): Data =>
  Object.fromEntries(
    Object.entries(template).map(([key, value]) => {
      if (!key.endsWith(".$")) return [key, value];
      const path = String(value);
      return [key.slice(0, -2), path === "$$.Task.Token" ? token : pathValue(data, path)];
    }),
  );

const withResult = (data: Data, resultPath: string | null | undefined, result: unknown): Data => {
  if (resultPath === null) return data;
  if (resultPath === undefined || resultPath === "$") return result as Data;
  const [, key, ...rest] = resultPath.split(".");
  if (!key || rest.length > 0) throw new Error(`unsupported ResultPath ${resultPath}`);
  return { ...data, [key]: result };
};

const matches = (rule: Rule, error: string) =>
  rule.ErrorEquals.includes(error) || rule.ErrorEquals.includes("States.ALL");

const choiceHolds = (rule: Data, data: Data): boolean => {
  if (Array.isArray(rule.And)) return rule.And.every((inner) => choiceHolds(inner as Data, data));
  const value = pathValue(data, String(rule.Variable));
  if ("IsPresent" in rule) return (value !== undefined) === rule.IsPresent;
  if ("StringEquals" in rule) return value === rule.StringEquals;
  if ("BooleanEquals" in rule) return value === rule.BooleanEquals;
  if ("NumericGreaterThan" in rule)
    return typeof value === "number" && value > Number(rule.NumericGreaterThan);
  throw new Error(`unsupported Choice rule ${JSON.stringify(rule)}`);
};

const errorName = (error: unknown) => (error instanceof Error ? error.name : String(error));

/** The executions of one control plane's job-lifecycle machine. */
export class LifecycleRunner {
  readonly executions: Execution[] = [];
  readonly #machine = JSON.parse(readFileSync(DEFINITION, "utf8")) as Machine;
  readonly #names = new Set<string>();
  #tokens = 0;

  start(name: string, input: Data): void {
    this.#names.add(name);
    this.executions.push({
      name,
      jobId: String(input.jobId),
      at: this.#machine.StartAt,
      data: input,
    });
  }

  started(name: string): boolean {
    return this.#names.has(name);
  }

  /** A report on a task; one over already, or never issued, changes nothing, as on Step Functions. */
  report(token: string, report: Report): void {
    const waiting = this.executions.find((e) => e.token === token && !e.report);
    if (waiting) waiting.report = report;
  }

  live(jobId: string): boolean {
    return this.executions.some((e) => e.jobId === jobId && e.at !== "ended");
  }

  /** Waiting tasks whose job's agent can no longer report: their heartbeat (or timeout) runs out. */
  timeOut(unreachable: (jobId: string) => boolean): void {
    for (const execution of this.executions) {
      if (!execution.token || execution.report || !unreachable(execution.jobId)) continue;
      const state = this.#state(execution.at);
      const error = state.HeartbeatSeconds ? "States.HeartbeatTimeout" : "States.Timeout";
      if (state.HeartbeatSeconds || state.TimeoutSeconds) execution.report = { ok: false, error };
    }
  }

  #state(name: string): State {
    const state = this.#machine.States[name];
    if (!state) throw new Error(`no state ${name}`);
    return state;
  }

  #next(execution: Execution, state: State, data: Data): void {
    Object.assign(execution, { data, token: undefined, report: undefined });
    execution.at = state.End || !state.Next ? "ended" : state.Next;
  }

  /** The state's Catch for `error`, or the execution fails. */
  #caught(execution: Execution, state: State, error: string, cause: string): void {
    const rule = state.Catch?.find((candidate) => matches(candidate, error));
    if (!rule?.Next) {
      Object.assign(execution, { at: "ended", failed: error, token: undefined, report: undefined });
      return;
    }
    const data = withResult(execution.data, rule.ResultPath, { Error: error, Cause: cause });
    Object.assign(execution, { at: rule.Next, data, token: undefined, report: undefined });
  }

  /** Runs a task's Lambda as its Retry does: the result, or the error that no retrier took. */
  async #invoke(state: State, payload: Data, cp: ControlPlane) {
    const name = /^\$\{(\w+)\}$/.exec(state.Parameters?.FunctionName ?? "")?.[1];
    const task = name && workflowTasks(() => cp)[name as keyof ReturnType<typeof workflowTasks>];
    if (!task) throw new Error(`unsupported task ${state.Parameters?.FunctionName}`);
    const attempts = new Map<Rule, number>();
    for (;;) {
      try {
        return { ok: true as const, result: await task(payload) };
      } catch (error) {
        // A bug, not a fault: a Catch would hide it.
        if (error instanceof TypeError || error instanceof ReferenceError) throw error;
        const rule = state.Retry?.find((candidate) => matches(candidate, errorName(error)));
        const tried = (rule && attempts.get(rule)) ?? 0;
        if (!rule || tried >= (rule.MaxAttempts ?? 3))
          return { ok: false as const, error: errorName(error), cause: String(error) };
        attempts.set(rule, tried + 1);
      }
    }
  }

  /** Carries out the state `execution` stands at; false when it waits on a report, or has ended. */
  async step(cp: ControlPlane, execution: Execution): Promise<boolean> {
    if (execution.at === "ended") return false;
    const state = this.#state(execution.at);
    const { data } = execution;
    switch (state.Type) {
      case "Choice": {
        const rule = state.Choices?.find((candidate) => choiceHolds(candidate, data));
        execution.at = String(rule?.Next ?? state.Default);
        return true;
      }
      case "Wait":
      case "Pass":
        this.#next(execution, state, data);
        return true;
      case "Succeed":
      case "Fail":
        execution.at = "ended";
        return true;
      case "Task":
        return this.#task(cp, execution, state);
    }
  }

  async #task(cp: ControlPlane, execution: Execution, state: State): Promise<boolean> {
    const callback = state.Resource?.endsWith(".waitForTaskToken") ?? false;
    if (callback && execution.token) {
      const { report } = execution;
      if (!report) return false;
      if (report.ok)
        this.#next(execution, state, withResult(execution.data, state.ResultPath, report.output));
      else this.#caught(execution, state, report.error, report.cause ?? "");
      return true;
    }
    const token = callback ? `token-${++this.#tokens}` : undefined;
    const payload = evaluate(state.Parameters?.Payload ?? {}, execution.data, token);
    const done = await this.#invoke(state, payload, cp);
    if (!done.ok) {
      this.#caught(execution, state, done.error, done.cause);
    } else if (token) {
      execution.token = token;
    } else {
      const result = { Payload: done.result };
      const selected = state.ResultSelector ? evaluate(state.ResultSelector, result) : result;
      this.#next(execution, state, withResult(execution.data, state.ResultPath, selected));
    }
    return true;
  }
}
