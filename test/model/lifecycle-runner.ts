/**
 * The job-lifecycle state machine, stepped by hand: each execution is at one of the ASL
 * file's states and a step carries out that state with the real task (the use case the
 * state's Lambda calls), its Retry on a crashed Lambda and its Catch. A property test then
 * decides what happens between steps (an agent's report, a fault, the reaper), which a
 * free-running engine would decide by timing. `LIFECYCLE_STATES` names every state the
 * runner knows; a test checks it against statemachines/job-lifecycle.asl.json.
 */
import { acquireInstance } from "../../lambdas/use-cases/acquire-instance.ts";
import { type AgentStep, dispatchStep } from "../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../lambdas/use-cases/control-plane.ts";
import { markJobLost, releaseInstance } from "../../lambdas/use-cases/finish-job.ts";
import { WORKFLOW_ERRORS } from "../../lambdas/use-cases/workflow-errors.ts";

/** A Lambda that died after its side effects: the state's Retry runs it again. */
export const LAMBDA_CRASH = "Lambda.ServiceException";

/** Each callback state, the agent step it dispatches, and its timeout's name in the ASL. */
const CALLBACK_STATES = {
  "Wait for the agent": { step: "prepare", timeout: "States.Timeout" },
  "Gear up the env": { step: "gearUp", timeout: "States.HeartbeatTimeout" },
  "Send model and data": { step: "sendInputs", timeout: "States.HeartbeatTimeout" },
  "Run the job": { step: "run", timeout: "States.HeartbeatTimeout" },
  "Return the results": { step: "returnResults", timeout: "States.HeartbeatTimeout" },
} as const satisfies Record<string, { step: AgentStep; timeout: string }>;
type CallbackState = keyof typeof CALLBACK_STATES;

export const LIFECYCLE_STATES = [
  "Acquire an instance",
  ...(Object.keys(CALLBACK_STATES) as CallbackState[]),
  "Mark the job lost",
  "Free the instance",
] as const;

type Outcome = { ok: true; output: Record<string, unknown> } | { ok: false; error: string };

export type ExecutionState =
  | { at: "Acquire an instance"; noCapacityRetries: number }
  | { at: CallbackState; token?: string; outcome?: Outcome }
  | { at: "Mark the job lost" | "Free the instance" }
  | { at: "ended"; failed?: string };

export interface Execution {
  name: string;
  jobId: string;
  state: ExecutionState;
}

/** The ASL's Retry on `gpuctl.NoCapacity` at "Acquire an instance". */
const NO_CAPACITY_ATTEMPTS = 96;
/** The ASL's Retry on Lambda's own errors, at every task state. */
const LAMBDA_ATTEMPTS = 4;

const errorName = (error: unknown) => (error instanceof Error ? error.name : String(error));

/** Runs a task as its state's Retry does for a crashed Lambda; its error's name if it still fails. */
const task = async (run: () => Promise<unknown>): Promise<string | undefined> => {
  for (let attempt = 0; ; attempt++) {
    try {
      await run();
      return undefined;
    } catch (error) {
      // A bug, not a fault: the state's Catch would hide it.
      if (error instanceof TypeError || error instanceof ReferenceError) throw error;
      if (errorName(error) !== LAMBDA_CRASH || attempt === LAMBDA_ATTEMPTS) return errorName(error);
    }
  }
};

/** Where a callback state goes on its report, as the ASL's Next and Choice states say. */
const afterReport = (at: CallbackState, output: Record<string, unknown>): ExecutionState => {
  switch (at) {
    case "Wait for the agent":
      if (output.phase === "SENDING_MODEL_AND_DATA") return { at: "Send model and data" };
      return output.phase === "GEARING_UP_ENV"
        ? { at: "Gear up the env" }
        : { at: "Free the instance" };
    case "Gear up the env":
      return { at: "Send model and data" };
    case "Send model and data":
      return { at: "Run the job" };
    case "Run the job":
      return output.phase === "RETURNING"
        ? { at: "Return the results" }
        : { at: "Free the instance" };
    case "Return the results":
      return { at: "Free the instance" };
  }
};

/** The executions of one control plane, with the `Workflows` port the use cases reach them by. */
export class LifecycleRunner {
  readonly executions: Execution[] = [];
  readonly #names = new Set<string>();
  #tokens = 0;

  /** Starts an execution, as `Workflows.start` of the job-lifecycle machine does. */
  start(name: string, jobId: string): void {
    this.#names.add(name);
    this.executions.push({
      name,
      jobId,
      state: { at: "Acquire an instance", noCapacityRetries: 0 },
    });
  }

  started(name: string): boolean {
    return this.#names.has(name);
  }

  /** The execution waiting on `token`, if a task still does. */
  #waiting(token: string) {
    return this.executions.find(
      (execution) =>
        "token" in execution.state && execution.state.token === token && !execution.state.outcome,
    );
  }

  /** A report on a task; one over already (or never issued) changes nothing, as on Step Functions. */
  report(token: string, outcome: Outcome): void {
    const execution = this.#waiting(token);
    if (execution && "token" in execution.state) execution.state = { ...execution.state, outcome };
  }

  live(jobId: string): boolean {
    return this.executions.some((e) => e.jobId === jobId && e.state.at !== "ended");
  }

  /** Waiting tasks whose job's agent can no longer report: their timeout fires. */
  timeOut(unreachable: (jobId: string) => boolean): void {
    for (const execution of this.executions) {
      const { state } = execution;
      if (state.at in CALLBACK_STATES && "token" in state && state.token && !state.outcome) {
        if (unreachable(execution.jobId))
          execution.state = {
            ...state,
            outcome: { ok: false, error: CALLBACK_STATES[state.at as CallbackState].timeout },
          };
      }
    }
  }

  /** Carries out the state `execution` is at; false when it waits on a report. */
  async step(cp: ControlPlane, execution: Execution): Promise<boolean> {
    const { state, jobId } = execution;
    const payload = { jobId };
    switch (state.at) {
      case "ended":
        return false;
      case "Acquire an instance": {
        const error = await task(() => acquireInstance(cp, payload.jobId));
        if (
          error === WORKFLOW_ERRORS.noCapacity &&
          state.noCapacityRetries < NO_CAPACITY_ATTEMPTS
        ) {
          execution.state = { ...state, noCapacityRetries: state.noCapacityRetries + 1 };
        } else {
          execution.state = error ? { at: "Free the instance" } : { at: "Wait for the agent" };
        }
        return true;
      }
      case "Mark the job lost": {
        const error = await task(() => markJobLost(cp, jobId));
        execution.state = error ? { at: "ended", failed: error } : { at: "Free the instance" };
        return true;
      }
      case "Free the instance": {
        const error = await task(() => releaseInstance(cp, jobId));
        execution.state = error ? { at: "ended", failed: error } : { at: "ended" };
        return true;
      }
      default: {
        if (!state.token) {
          const token = `token-${++this.#tokens}`;
          const { step } = CALLBACK_STATES[state.at];
          const error = await task(() => dispatchStep(cp, { jobId, step, taskToken: token }));
          execution.state = error ? { at: "Free the instance" } : { ...state, token };
          return true;
        }
        if (!state.outcome) return false;
        const { outcome } = state;
        if (outcome.ok) execution.state = afterReport(state.at, outcome.output);
        else if (outcome.error === CALLBACK_STATES[state.at].timeout)
          execution.state = { at: "Mark the job lost" };
        else execution.state = { at: "Free the instance" };
        return true;
      }
    }
  }
}
