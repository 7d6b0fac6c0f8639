import { INSTANCE_STATUSES, type Instance } from "../domain/instance.ts";
import type { Ports } from "./control-plane.ts";

/**
 * Whose instances a listing shows: one owner's (a user's own view), or every owner's (the
 * view an operator's role is to be given). An instance only ever serves the owner of its
 * pool, so an owner's instances are those of their own jobs, in any status.
 */
export type InstanceScope = { owner: string } | { allOwners: true };

/** The instances in `scope`, most recently changed first within each status. */
export const listInstances = async (
  cp: Ports<"instances">,
  scope: InstanceScope,
): Promise<Instance[]> => {
  const byStatus = await Promise.all(
    INSTANCE_STATUSES.map((status) => cp.instances.listByStatus(status)),
  );
  const instances = byStatus.flat();
  return "owner" in scope
    ? instances.filter((instance) => instance.pool.owner === scope.owner)
    : instances;
};
