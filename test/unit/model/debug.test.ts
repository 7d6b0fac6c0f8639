import { it } from "vitest";
import { FaultyWorld } from "../../model/faulty-world.ts";

it("debug", async () => {
  const world = new FaultyWorld();
  await world.submit([{ spot: true, backoffLimit: 0, types: 1 }]);
  for (const a of [
    { kind: "step", pick: 0 },
    { kind: "step", pick: 0 },
    { kind: "report", pick: 0, ok: true, exitCode: 0, envCached: false },
    { kind: "vanish", pick: 0, as: "stopped", eventDelivered: true },
  ]) {
    await world.act(a as never);
  }
  console.log(
    JSON.stringify([...world.stores.instances.records.values()]),
    JSON.stringify([...world.compute.instances.values()]),
  );
  await world.settle();
  await world.reapAfterPlans();
  console.log(
    JSON.stringify([...world.stores.instances.records.values()]),
    JSON.stringify([...world.compute.instances.values()]),
  );
  console.log(
    world.stores.jobs.written
      .map((c) => `${c.before.job.phase} -${c.event.type}-> ${c.after.phase}`)
      .join("\n"),
  );
});
