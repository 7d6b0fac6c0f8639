import { z } from "zod";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import {
  instanceStateChanged,
  spotInterruptionWarned,
} from "../../use-cases/reconcile-instance.ts";

const StateChange = z.object({
  source: z.literal("aws.ec2"),
  /** When EC2 saw the change: a stop seen after the record last changed is news. */
  time: z.string().optional(),
  "detail-type": z.literal("EC2 Instance State-change Notification"),
  detail: z.object({
    "instance-id": z.string().min(1),
    state: z.enum(["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]),
  }),
});

const SpotInterruptionWarning = z.object({
  source: z.literal("aws.ec2"),
  "detail-type": z.literal("EC2 Spot Instance Interruption Warning"),
  detail: z.object({
    "instance-id": z.string().min(1),
    /** terminate, stop or hibernate; gpuctl launches one-time spot that terminates. */
    "instance-action": z.string(),
  }),
});

/** The two EC2 events the stack's rule delivers, as EventBridge wraps them. */
export const Ec2Event = z.discriminatedUnion("detail-type", [StateChange, SpotInterruptionWarning]);

export const EC2_EVENTS_NEEDS = needs(
  ["jobs", "instances", "compute", "commands", "workflows", "events", "metrics", "clock"],
  ["costModel"],
);

/** An instance stopped or terminated outside the control plane, or a spot instance about to be. */
export const ec2EventArrived = (cp: PortsOf<typeof EC2_EVENTS_NEEDS>, event: unknown) => {
  const parsed = Ec2Event.parse(event);
  const providerId = parsed.detail["instance-id"];
  return parsed["detail-type"] === "EC2 Spot Instance Interruption Warning"
    ? spotInterruptionWarned(cp, providerId)
    : instanceStateChanged(cp, {
        providerId,
        state: parsed.detail.state,
        ...(parsed.time ? { at: parsed.time } : {}),
      });
};
