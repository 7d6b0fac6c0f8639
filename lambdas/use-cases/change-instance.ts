import { accrueUsage } from "../domain/cost.ts";
import {
  type CloseAction,
  type Instance,
  type InstanceEvent,
  statusLabel,
  transitionInstance,
} from "../domain/instance.ts";
import { instanceChangePoints } from "../domain/metrics.ts";
import { instanceStatusChanged } from "../domain/status-events.ts";
import type { Ports } from "./control-plane.ts";
import { conflict, type Failure, refused } from "./outcome.ts";

/**
 * Applies one event to an instance as read, persists it if unchanged since, and publishes
 * it and the time it spent since its previous change.
 */
export const changeInstance = async (
  cp: Ports<"instances" | "events" | "metrics" | "clock", "costModel">,
  instance: Instance,
  event: InstanceEvent,
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const next = transitionInstance(instance, event);
  if (!next.ok) return refused(next.refusal.message);
  const at = cp.clock.now();
  const after = accrueUsage(instance, next.instance, at);
  const written = await cp.instances.apply({ before: instance, after, at });
  if (!written.ok) return conflict(written);
  cp.metrics.record(instanceChangePoints(instance, at, cp.settings.costModel));
  // Only a change of status is news (an agent registering on a LAUNCHING instance is not).
  if (statusLabel(next.instance) !== statusLabel(instance))
    await cp.events.publish([instanceStatusChanged(next.instance, at, event)]);
  return { ok: true, instance: { ...after, updatedAt: at } };
};

/**
 * Stops or terminates an instance and records each step, so a crash half-way leaves it
 * CLOSING for the reaper rather than silently running. A terminated instance's mailbox
 * goes with it; a stopped one keeps its mailbox for its next start.
 */
export const closeInstance = async (
  cp: Ports<"instances" | "events" | "metrics" | "clock" | "compute" | "commands", "costModel">,
  instance: Instance,
  action: CloseAction,
  trigger: InstanceEvent = { type: "closeRequested", action },
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const closing = await changeInstance(cp, instance, trigger);
  if (!closing.ok) return closing;
  return finishClose(cp, closing.instance, action);
};

/**
 * Carries out the close a CLOSING record asks for (`action`, as its substatus says) and records it done: the second half of
 * `closeInstance`, and what repeats it when that failed or died half-way (a retried
 * release, the reaper). Closing twice is harmless: the compute's stop and terminate are.
 */
export const finishClose = async (
  cp: Ports<"instances" | "events" | "metrics" | "clock" | "compute" | "commands", "costModel">,
  instance: Instance,
  action: CloseAction,
): Promise<{ ok: true; instance: Instance } | Failure> => {
  await carryOutClose(cp, instance.id, action);
  return changeInstance(cp, instance, { type: action === "stop" ? "stopped" : "terminated" });
};

/** Asks the compute to stop or terminate the instance; a terminated one's mailbox goes with it. */
export const carryOutClose = async (
  cp: Ports<"compute" | "commands">,
  instanceId: string,
  action: CloseAction,
): Promise<void> => {
  if (action === "stop") return cp.compute.stop(instanceId);
  await cp.compute.terminate(instanceId);
  await cp.commands.close(instanceId);
};
