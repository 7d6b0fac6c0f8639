import type { Job } from "./job.ts";
import type { Phase, Reason } from "./phases.ts";
import { type JobEvent, transition } from "./transitions.ts";

/** One stored event: what happened, and where the store says the job landed. */
export interface RecordedEvent {
  event: JobEvent | { type: "submitted" };
  phase: Phase;
  reason?: Reason;
}

/**
 * The job as it stood after each recorded event, replayed through `transition` from the
 * job as submitted: the dialects of a past state need more than its phase and reason
 * (workers ready, a resize in flight, whether it ever ran). Should the replay refuse an
 * event or land elsewhere than the store says, the store's phase and reason win.
 */
export const jobHistory = (submitted: Job, events: readonly RecordedEvent[]): Job[] => {
  const states: Job[] = [];
  let job = submitted;
  for (const recorded of events) {
    if (recorded.event.type !== "submitted") {
      const next = transition(job, recorded.event);
      job = next.ok ? next.job : job;
    }
    if (job.phase !== recorded.phase || job.reason !== recorded.reason) {
      const { reason: _stale, ...rest } = job;
      job = {
        ...rest,
        phase: recorded.phase,
        ...(recorded.reason ? { reason: recorded.reason } : {}),
      };
    }
    states.push(job);
  }
  return states;
};
