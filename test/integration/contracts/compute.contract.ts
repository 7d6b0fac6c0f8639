/**
 * What every `Compute` does, run against each adapter so they cannot drift: the local
 * processes and EC2 (a stateful fake behind aws-sdk-client-mock).
 */
import { expect, it } from "vitest";
import { type Compute, ComputeError, type LaunchRequest } from "../../../lambdas/ports.ts";

export interface ComputeUnderTest {
  compute: Compute;
  /** An instance type the compute offers. */
  instanceType: string;
  agent: LaunchRequest["agent"];
}

let launches = 0;

export const computeContract = (setup: () => Promise<ComputeUnderTest>) => {
  const request = (under: ComputeUnderTest, fields: Partial<LaunchRequest> = {}) => ({
    instanceId: `gi-contract-${++launches}`,
    instanceType: under.instanceType,
    spot: false,
    jobId: "job-1",
    owner: "ada",
    envHash: "sha256:env",
    region: "eu-west-1",
    agent: under.agent,
    ...fields,
  });
  const stateOf = async (compute: Compute, instanceId: string) =>
    (await compute.list()).find((instance) => instance.instanceId === instanceId)?.state;

  it("launches, lists, stops, starts and terminates an instance", async () => {
    const under = await setup();
    const { compute } = under;
    const launch = request(under);
    const { providerId } = await compute.launch(launch);
    expect(providerId).not.toBe("");
    expect(providerId).not.toBe(launch.instanceId);
    const listed = (await compute.list()).find((i) => i.instanceId === launch.instanceId);
    expect(listed).toMatchObject({
      providerId,
      state: expect.stringMatching(/^(pending|running)$/),
    });
    expect(Number.isNaN(Date.parse(listed?.launchedAt ?? ""))).toBe(false);

    await compute.stop(launch.instanceId);
    expect(await stateOf(compute, launch.instanceId)).toMatch(/^(stopping|stopped)$/);
    await compute.start(launch.instanceId, under.agent);
    expect(await stateOf(compute, launch.instanceId)).toMatch(/^(pending|running)$/);
    await compute.terminate(launch.instanceId);
    expect([undefined, "shutting-down", "terminated"]).toContain(
      await stateOf(compute, launch.instanceId),
    );
    // Terminating what is gone already is done, not an error.
    await compute.terminate(launch.instanceId);
  });

  it("refuses an instance type it does not offer, and launches nothing", async () => {
    const under = await setup();
    const before = await under.compute.list();
    const launching = under.compute.launch(request(under, { instanceType: "x9.unknown" }));
    await expect(launching).rejects.toBeInstanceOf(ComputeError);
    await expect(launching).rejects.toMatchObject({ code: "InvalidInstanceType" });
    expect(await under.compute.list()).toEqual(before);
  });

  it("never makes a second instance for one id", async () => {
    const under = await setup();
    const launch = request(under);
    const first = await under.compute.launch(launch);
    const again = await under.compute.launch(launch).catch(() => first);
    expect(again).toEqual(first);
    const mine = (await under.compute.list()).filter((i) => i.instanceId === launch.instanceId);
    expect(mine).toHaveLength(1);
    await under.compute.terminate(launch.instanceId);
  });

  it("offers the types it launches", async () => {
    const under = await setup();
    expect(await under.compute.instanceTypes()).toContain(under.instanceType);
  });
};
