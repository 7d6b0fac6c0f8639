import type { CoolingTimers } from "../../ports.ts";
import type { LocalWorkflows } from "./local-workflows.ts";

/** The `CoolingTimers` port on the local runner: it aborts the instance-cooling execution (and keeps no cause). */
export const localCoolingTimers = (workflows: Pick<LocalWorkflows, "abort">): CoolingTimers => ({
  stop: (name) => workflows.abort("instance-cooling", name),
});
