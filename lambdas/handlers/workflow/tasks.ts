import { z } from "zod";
import { acquireInstance } from "../../use-cases/acquire-instance.ts";
import { AGENT_STEPS, dispatchStep } from "../../use-cases/agent-steps.ts";
import { INSTANCE_PORTS } from "../../use-cases/claim-instance.ts";
import {
  bothNeeds,
  type ControlPlane,
  type Needs,
  needs,
  type PortName,
  type Ports,
  type SettingName,
} from "../../use-cases/control-plane.ts";
import {
  abandonCooling,
  expireCooling,
  expireStopped,
  releaseInstance,
  requestReview,
  timeOutJob,
} from "../../use-cases/finish-job.ts";
import { askAboutSilentAgent } from "../../use-cases/silent-agent.ts";

const jobInput = z.object({ jobId: z.string() });

/** A workflow task: the ports its use case uses, and the call it makes with the state's payload. */
export interface WorkflowTask<P extends PortName, S extends SettingName> {
  needs: Needs<P, S>;
  run: (cp: Ports<P, S>, payload: unknown) => Promise<unknown>;
}

/**
 * Side-effect free, as is `needs` (marked `@__PURE__` at each call: esbuild does not see
 * that a function in another module is pure), so a Lambda's bundle drops the tasks its
 * entry does not import, and their use cases with them.
 */
/* @__NO_SIDE_EFFECTS__ */
const task = <P extends PortName, S extends SettingName>(
  taskNeeds: Needs<P, S>,
  run: (cp: Ports<P, S>, payload: unknown) => Promise<unknown>,
): WorkflowTask<P, S> => ({ needs: taskNeeds, run });

/** What stopping or terminating an instance uses. */
const CLOSING = /* @__PURE__ */ needs(
  ["instances", "compute", "commands", "events", "metrics", "clock"],
  ["costModel"],
);

export const AcquireInstanceFunction = task(
  /* @__PURE__ */ bothNeeds(
    /* @__PURE__ */ needs(INSTANCE_PORTS, ["region", "agent", "costModel"]),
    /* @__PURE__ */ needs(["coolingTimers"]),
  ),
  (cp, payload) => acquireInstance(cp, jobInput.parse(payload).jobId),
);

export const DispatchStepFunction = task(
  /* @__PURE__ */ needs(["jobs", "compute", "artifacts", "commands"], ["agent"]),
  (cp, payload) =>
    dispatchStep(
      cp,
      z
        .object({ jobId: z.string(), step: z.enum(AGENT_STEPS), taskToken: z.string() })
        .parse(payload),
    ),
);

export const RequestReviewFunction = task(
  /* @__PURE__ */ needs(["jobs", "events", "metrics", "clock"]),
  (cp, payload) =>
    requestReview(cp, z.object({ jobId: z.string(), taskToken: z.string() }).parse(payload)),
);

export const SilentAgentFunction = task(
  /* @__PURE__ */ needs(
    ["jobs", "instances", "compute", "commands", "events", "metrics", "clock"],
    ["costModel"],
  ),
  (cp, payload) => askAboutSilentAgent(cp, jobInput.parse(payload).jobId),
);

export const TimeOutJobFunction = task(
  /* @__PURE__ */ needs(["jobs", "commands", "workflows", "events", "metrics", "clock"]),
  (cp, payload) => timeOutJob(cp, jobInput.parse(payload).jobId),
);

export const ReleaseInstanceFunction = task(
  /* @__PURE__ */ bothNeeds(
    /* @__PURE__ */ needs(INSTANCE_PORTS, ["costModel", "cooling"]),
    /* @__PURE__ */ needs(["workflows"]),
  ),
  (cp, payload) => releaseInstance(cp, jobInput.parse(payload).jobId),
);

export const ExpireCoolingFunction = task(CLOSING, (cp, payload) =>
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
);

export const AbandonCoolingFunction = task(CLOSING, (cp, payload) =>
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
);

export const ExpireStoppedFunction = task(CLOSING, (cp, payload) =>
  expireStopped(
    cp,
    z.object({ instanceId: z.string(), coolingEpoch: z.number().int() }).parse(payload),
  ),
);

/**
 * The workflow task handlers, each named by the `${...Function}` placeholder its ASL states
 * invoke: each parses its payload and makes one use-case call. Each is its own Lambda on
 * AWS (lambdas/handlers/lambda/tasks/), which imports only its own task by that name; the
 * local runner binds them all to the states.
 */
export const WORKFLOW_TASKS = {
  AcquireInstanceFunction,
  DispatchStepFunction,
  RequestReviewFunction,
  SilentAgentFunction,
  TimeOutJobFunction,
  ReleaseInstanceFunction,
  ExpireCoolingFunction,
  AbandonCoolingFunction,
  ExpireStoppedFunction,
};

export type WorkflowTaskName = keyof typeof WORKFLOW_TASKS;

/**
 * Every task, as the local runner invokes them, on the control plane `cp` returns when
 * called: the control plane holds the workflows that invoke these tasks, so it exists only
 * once they do.
 */
export const workflowTasks = (cp: () => ControlPlane) =>
  Object.fromEntries(
    Object.entries(WORKFLOW_TASKS).map(([name, { run }]) => [
      name,
      (payload: unknown) => run(cp(), payload),
    ]),
  ) as Record<WorkflowTaskName, (payload: unknown) => Promise<unknown>>;
