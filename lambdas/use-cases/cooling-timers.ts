import type { Instance } from "../domain/instance.ts";
import type { Ports } from "./control-plane.ts";
import { coolingTimerName } from "./execution-names.ts";

/**
 * A job claimed the instance: the timer of the cooling period it was taken from has nothing
 * left to do, and is stopped rather than left waiting (up to days, against the account's
 * quota of open executions). Best effort: a timer left running finds the instance reused
 * (its epoch or status changed) and does nothing.
 */
export const stopCoolingTimer = async (
  cp: Ports<"coolingTimers">,
  claimed: Pick<Instance, "id" | "coolingEpoch">,
): Promise<void> => {
  const name = coolingTimerName(claimed.id, claimed.coolingEpoch);
  try {
    await cp.coolingTimers.stop(name, "a job claimed the instance");
  } catch (error) {
    console.warn(`could not stop cooling timer ${name}: ${String(error)}`);
  }
};
