import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startLocalControlPlane } from "../../lambdas/adapters/local/local-control-plane.ts";
import { GpuctlClient } from "../../sdk/client.ts";
import { trainingSpec } from "./local-control-plane.ts";

const stateDir = await mkdtemp(join(tmpdir(), "gpuctl-restart-"));
afterAll(() => rm(stateDir, { recursive: true, force: true }));

const start = async () => {
  const local = await startLocalControlPlane({ stateDir, agentEnv: { GPUCTL_HEARTBEAT_S: "1" } });
  return {
    ...local,
    client: new GpuctlClient({
      endpoint: local.endpoint,
      ...(local.admin ? { token: local.admin.token } : {}),
    }),
  };
};

const until = async <T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
): Promise<T> => {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe("restarting the local control plane", () => {
  it("keeps jobs and instances, requeues interrupted work, and reuses stopped instances", async () => {
    const first = await start();
    const done = await first.client.submitJob(trainingSpec());
    await until(
      () => first.client.getJob(done.id),
      (job) => job.terminal,
      "the first job",
    );
    // A job ends before its instance is freed: the next one finds it only once it cools.
    await until(
      () => first.client.listInstances(),
      (instances) => instances.some((instance) => instance.status === "COOLING"),
      "the first job's instance to cool",
    );
    const running = await first.client.submitJob(
      trainingSpec({ run: "sleep 60 # restart-marker" }),
    );
    await until(
      () => first.client.getJob(running.id),
      (job) => job.phase === "TRAINING",
      "training",
    );
    await first.stop();

    const second = await start();
    try {
      // The first admin was made once: the restart hands the CLI that same token.
      expect(second.admin).toEqual(first.admin);
      expect(await second.client.getJob(done.id)).toMatchObject({ phase: "COMPLETED" });
      // Its agent went with the control plane: requeued, not the user's attempt, not lost.
      const requeue = (await second.client.jobEvents(running.id)).find(
        (event) => event.type === "heartbeatLost",
      );
      expect(requeue).toMatchObject({
        from: "TRAINING",
        phase: "REQUESTING_SERVER",
        reason: "HEARTBEAT_LOST",
        dialects: {
          aibro: { status: "QUEUING", substatus: "REQUESTING SERVER" },
          runai: { status: "Pending" },
          modelarts: { code: 4 },
        },
      });
      const rerun = await until(
        () => second.client.getJob(running.id),
        (job) => job.phase === "TRAINING",
        "the requeued job to run again",
      );
      expect(rerun).toMatchObject({ attempt: 1, requeues: 1 });
      // It ran again on the first job's instance, stopped while its agent was gone: the only one.
      const instances = await second.client.listInstances();
      expect(instances.map((instance) => instance.id)).toEqual([rerun.instanceId]);
      await second.client.cancelJob(running.id);
      await until(
        () => second.client.listInstances(),
        (listed) => listed.every((instance) => instance.status === "COOLING"),
        "the canceled job's instance to cool",
      );

      const again = await second.client.submitJob(trainingSpec());
      const finished = await until(
        () => second.client.getJob(again.id),
        (job) => job.terminal,
        "the job after restart",
      );
      expect(finished.phase).toBe("COMPLETED");
      expect(finished.instanceId).toBe(instances[0]?.id);
    } finally {
      await second.stop();
    }
  });
});
