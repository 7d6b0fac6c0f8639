import type { InstancePool } from "../domain/instance.ts";
import type { PoolChange, PoolEvidence } from "../domain/pool-history.ts";
import { PoolHistoryContended } from "../ports.ts";
import type { Ports } from "./control-plane.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

/**
 * Records a change of a pool's history, exactly once (see `PoolStats`). One that contention
 * kept out fails its step as a throttled call does, for the step to be retried soon without
 * counting an attempt: its retry records the same change, under the same id.
 */
export const recordPoolChange = async (
  cp: Ports<"pools">,
  pool: InstancePool,
  change: PoolChange,
): Promise<PoolEvidence> => {
  try {
    return await cp.pools.update(pool, change);
  } catch (error) {
    if (error instanceof PoolHistoryContended)
      throw new WorkflowError(WORKFLOW_ERRORS.throttled, error.message);
    throw error;
  }
};
