import { SFNClient } from "@aws-sdk/client-sfn";
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { StepFunctionsCoolingTimers } from "../sfn/step-functions-cooling-timers.ts";
import { StepFunctionsWorkflows } from "../sfn/step-functions-workflows.ts";
import { type Builder, builder } from "./builder.ts";

export const workflows: Builder<ControlPlane["workflows"]> = /* @__PURE__ */ builder(
  ["stateMachines"],
  ({ stateMachines }) =>
    new StepFunctionsWorkflows({
      client: new SFNClient({}),
      stateMachineArns: {
        "job-lifecycle": stateMachines.JOB_LIFECYCLE_STATE_MACHINE_ARN,
        "job-deadline": stateMachines.JOB_DEADLINE_STATE_MACHINE_ARN,
        "instance-cooling": stateMachines.INSTANCE_COOLING_STATE_MACHINE_ARN,
      },
    }),
);

export const coolingTimers: Builder<ControlPlane["coolingTimers"]> = /* @__PURE__ */ builder(
  ["coolingMachine"],
  ({ coolingMachine }) =>
    new StepFunctionsCoolingTimers({
      client: new SFNClient({}),
      stateMachineArn: coolingMachine.INSTANCE_COOLING_STATE_MACHINE_ARN,
    }),
);
