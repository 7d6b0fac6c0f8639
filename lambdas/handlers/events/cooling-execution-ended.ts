import { z } from "zod";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { abandonCooling } from "../../use-cases/finish-job.ts";

/**
 * The detail of Step Functions' "Step Functions Execution Status Change" event, as
 * EventBridge delivers it for the instance-cooling machine (and the local runner mirrors).
 */
export const ExecutionStatusChange = z.object({
  status: z.string(),
  name: z.string(),
  input: z.string(),
  error: z.string().nullish(),
  cause: z.string().nullish(),
});

const CoolingInput = z.object({ instanceId: z.string(), coolingEpoch: z.number().int() });

/**
 * How an execution ends when something other than its own steps ended it badly; the
 * stack's rule delivers only these.
 */
export const COOLING_FAILURES = ["FAILED", "TIMED_OUT"] as const;
const FAILURES: ReadonlySet<string> = new Set(COOLING_FAILURES);

export const COOLING_EXECUTION_ENDED_NEEDS = needs(
  ["instances", "compute", "commands", "events", "metrics", "clock"],
  ["costModel"],
);

/**
 * A cooling execution that failed (even where its own Catch cannot reach, as a Wait state
 * that could not wait) must not leave its instance running or stopped with nothing to end
 * it: the instance is terminated, unless a job took it since.
 */
export const coolingExecutionEnded = async (
  cp: PortsOf<typeof COOLING_EXECUTION_ENDED_NEEDS>,
  detail: unknown,
) => {
  const change = ExecutionStatusChange.parse(detail);
  if (!FAILURES.has(change.status)) return { terminated: false };
  const input = CoolingInput.parse(JSON.parse(change.input));
  const why = [change.error, change.cause].filter(Boolean).join(": ");
  return abandonCooling(cp, {
    ...input,
    cause: `cooling execution ${change.name} ${change.status}${why ? `: ${why}` : ""}`,
  });
};
