import { z } from "zod";
import { acquireInstance } from "../../use-cases/acquire-instance.ts";
import { AGENT_STEPS, dispatchStep } from "../../use-cases/agent-steps.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import {
  abandonCooling,
  expireCooling,
  expireStopped,
  markJobLost,
  releaseInstance,
  requestReview,
  timeOutJob,
} from "../../use-cases/finish-job.ts";

const jobInput = z.object({ jobId: z.string() });

/**
 * The workflow task handlers, keyed by the `${...Function}` placeholder their ASL states
 * invoke: each parses its payload and makes one use-case call. Lambda wraps the same
 * functions; the local runner binds them to the states directly.
 */
export const workflowTasks = (cp: ControlPlane) =>
  ({
    AcquireInstanceFunction: (payload: unknown) =>
      acquireInstance(cp, jobInput.parse(payload).jobId),
    DispatchStepFunction: (payload: unknown) =>
      dispatchStep(
        cp,
        z
          .object({ jobId: z.string(), step: z.enum(AGENT_STEPS), taskToken: z.string() })
          .parse(payload),
      ),
    RequestReviewFunction: (payload: unknown) =>
      requestReview(cp, z.object({ jobId: z.string(), taskToken: z.string() }).parse(payload)),
    MarkJobLostFunction: (payload: unknown) => markJobLost(cp, jobInput.parse(payload).jobId),
    TimeOutJobFunction: (payload: unknown) => timeOutJob(cp, jobInput.parse(payload).jobId),
    ReleaseInstanceFunction: (payload: unknown) =>
      releaseInstance(cp, jobInput.parse(payload).jobId),
    ExpireCoolingFunction: (payload: unknown) =>
      expireCooling(
        cp,
        z
          .object({
            instanceId: z.string(),
            coolingEpoch: z.number().int(),
            stoppedS: z.number().min(0),
          })
          .parse(payload),
      ),
    AbandonCoolingFunction: (payload: unknown) =>
      abandonCooling(
        cp,
        z
          .object({
            instanceId: z.string(),
            coolingEpoch: z.number().int(),
            error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }),
          })
          .transform(({ instanceId, coolingEpoch, error }) => ({
            instanceId,
            coolingEpoch,
            cause: [error.Error, error.Cause].filter(Boolean).join(": "),
          }))
          .parse(payload),
      ),
    ExpireStoppedFunction: (payload: unknown) =>
      expireStopped(
        cp,
        z.object({ instanceId: z.string(), coolingEpoch: z.number().int() }).parse(payload),
      ),
  }) satisfies Record<string, (payload: unknown) => Promise<unknown>>;
