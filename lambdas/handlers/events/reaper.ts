import { z } from "zod";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { reap } from "../../use-cases/reap.ts";

/** EventBridge's scheduled event, from the stack's `rate(5 minutes)` rule. */
const ScheduledEvent = z.object({
  source: z.literal("aws.events"),
  "detail-type": z.literal("Scheduled Event"),
});

export const REAPER_NEEDS = needs(
  ["jobs", "instances", "compute", "commands", "workflows", "events", "metrics", "clock"],
  ["costModel"],
);

export const reaperScheduled = (cp: PortsOf<typeof REAPER_NEEDS>, event: unknown) => {
  ScheduledEvent.parse(event);
  return reap(cp);
};
