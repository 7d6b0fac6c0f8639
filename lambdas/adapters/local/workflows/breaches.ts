import type { StateMachine } from "aws-local-stepfunctions";
import { overLimit } from "../../aws/sfn/step-functions-rules.ts";
import { type WaitSpec, waitBeyondTimers } from "./waits.ts";

type EventLogs = ReturnType<StateMachine["run"]>["eventLogs"];
type Event = EventLogs extends AsyncGenerator<infer E> ? E : never;

/** A rule of Step Functions an execution broke, and the error it fails with. */
export interface Breach {
  error: "States.DataLimitExceeded" | "States.Runtime";
  cause: string;
}

/** A limit of Step Functions the event shows a state broke, as the error the execution fails with. */
export function breachIn(
  event: Event,
  waits: ReadonlyMap<string, WaitSpec>,
  waitTimeOverrides: ((stateName: string) => number | undefined) | undefined,
): Breach | undefined {
  if (event.type !== "StateEntered" && event.type !== "StateExited") return undefined;
  const { name } = event.state;
  const over =
    event.type === "StateEntered"
      ? overLimit(`the input of "${name}"`, event.state.input)
      : overLimit(`the output of "${name}"`, event.state.output);
  if (over) return { error: "States.DataLimitExceeded", cause: over };
  const wait = waits.get(name);
  if (event.type !== "StateEntered" || !wait || waitTimeOverrides?.(name) !== undefined) {
    return undefined;
  }
  const beyond = waitBeyondTimers(wait, event.state.input, Date.now());
  return beyond ? { error: "States.Runtime", cause: `"${name}": ${beyond}` } : undefined;
}
