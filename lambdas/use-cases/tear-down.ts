import type { ComputeInstance } from "../ports.ts";
import type { Ports } from "./control-plane.ts";

/** States in which an instance bills: running, or stopped with its disk. */
const BILLING = new Set<ComputeInstance["state"]>(["pending", "running", "stopping", "stopped"]);

/** Terminate calls in flight at once: each is a DescribeInstances and a TerminateInstances. */
const PARALLEL = 8;

export interface TeardownOptions {
  /**
   * How many times at most the compute is listed and what bills terminated, until a list
   * shows nothing billing: a launch in flight at the first list, or a listing that lags a
   * terminate, is caught by the next round (terminating is idempotent).
   */
  rounds?: number;
  /** Waited between rounds, for the listing to catch up with the terminations. */
  pause?: () => Promise<void>;
}

export interface TeardownReport {
  /** gpuctl ids of the instances terminated here. */
  terminated: string[];
  /** gpuctl ids whose command queue is deleted (or was gone already). */
  queuesClosed: string[];
  /** What could not be ended, with why: an instance still billing, or a queue left. */
  left: Array<{
    instanceId: string;
    providerId?: string;
    what: "instance" | "queue";
    error: string;
  }>;
}

/** Runs `work` on every item, `PARALLEL` at a time, each on its own: one that throws does not stop the others. */
const eachSettled = async <T>(items: readonly T[], work: (item: T) => Promise<void>) => {
  const queue = [...items];
  const failures: Array<{ item: T; error: string }> = [];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await work(item);
      } catch (error) {
        failures.push({ item, error: String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return failures;
};

/**
 * Ends every instance this control plane launched, and their command queues, when its stack
 * is deleted: nothing of it (reaper, timers, workflows) is left to, and a stopped instance
 * bills its disk for ever. Terminating is all it does; the records stay in the retained
 * table as they were, describing an installation that no longer runs. `left` is empty
 * only when every instance the compute listed as billing, in each round, was terminated
 * (its TerminateInstances call succeeded) and every queue was closed.
 */
export const tearDown = async (
  cp: Ports<"compute" | "commands">,
  { rounds = 3, pause = async () => {} }: TeardownOptions = {},
): Promise<TeardownReport> => {
  const terminated = new Set<string>();
  const known = new Set<string>();
  let stillBilling: TeardownReport["left"] = [];
  for (let round = 0; round < rounds; round++) {
    if (round > 0) await pause();
    const listed = await cp.compute.list();
    for (const { instanceId } of listed) known.add(instanceId);
    const billing = listed.filter(({ state }) => BILLING.has(state));
    if (!billing.length) break;
    const refused = await eachSettled(billing, async ({ instanceId }) => {
      await cp.compute.terminate(instanceId);
      terminated.add(instanceId);
    });
    stillBilling = refused.map(({ item, error }) => ({
      instanceId: item.instanceId,
      providerId: item.providerId,
      what: "instance",
      error,
    }));
  }
  // A queue goes only with its instance: a billing one's agent may still read it.
  const ended = [...known].filter((id) => !stillBilling.some((left) => left.instanceId === id));
  const queuesClosed: string[] = [];
  const queuesLeft = await eachSettled(ended, async (instanceId) => {
    await cp.commands.close(instanceId);
    queuesClosed.push(instanceId);
  });
  return {
    terminated: [...terminated],
    queuesClosed,
    left: [
      ...stillBilling,
      ...queuesLeft.map(({ item, error }) => ({
        instanceId: item,
        what: "queue" as const,
        error,
      })),
    ],
  };
};
