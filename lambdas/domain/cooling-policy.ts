import type { CloseAction, Instance } from "./instance.ts";

export interface CoolingPlan {
  /** How long the instance stays warm for the next job of its pool. */
  periodS: number;
  /** What happens when nobody claimed it in time: stopped keeps the disk (faster setup). */
  action: CloseAction;
}

/**
 * The job's own cooling period wins; otherwise the installation's default. A spot
 * instance cannot be stopped, only terminated.
 */
export const coolingPlan = (
  jobCoolingPeriodS: number | undefined,
  instance: Pick<Instance, "spot">,
  defaultPeriodS: number,
): CoolingPlan => ({
  periodS: jobCoolingPeriodS ?? defaultPeriodS,
  action: instance.spot ? "terminate" : "stop",
});
