/**
 * The local Compute adapter: instances are real agent processes on real folders, talking
 * to a fake control plane on loopback.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { JobAssignment } from "../../../agent/protocol.ts";
import { ProcessCompute } from "../../../lambdas/adapters/local/process-compute.ts";
import { ComputeError } from "../../../lambdas/ports.ts";
import { AGENT_BUNDLE } from "../../../scripts/build-agent.ts";
import { FakeControlPlane, waitFor } from "../agent/fake-control-plane.ts";
import { groupMembers, processAlive } from "../agent/processes.ts";

let cp: FakeControlPlane;
let root: string;
const computes: ProcessCompute[] = [];

beforeAll(async () => {
  cp = await new FakeControlPlane().start();
  root = await mkdtemp(join(tmpdir(), "gpuctl-compute-"));
});

afterEach(async () => {
  await Promise.all(computes.splice(0).map((compute) => compute.shutdown()));
});

afterAll(async () => {
  await cp?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

let dirs = 0;
const newStateDir = () => join(root, `state-${++dirs}`);
const newCompute = (stateDir = newStateDir(), gpus = false) => {
  const compute = new ProcessCompute({ stateDir, gpuProbe: async () => gpus });
  computes.push(compute);
  return { compute, stateDir };
};
const agent = () => ({ endpoint: cp.url, token: cp.token });
let launches = 0;
const launchOn = async (compute: ProcessCompute, fields: { spot?: boolean } = {}) => {
  const instanceId = `local-${++launches}`;
  await compute.launch({
    instanceId,
    instanceType: "local",
    spot: fields.spot ?? false,
    region: "local",
    jobId: "job-1",
    owner: "ada",
    envHash: "sha256:env",
    agent: agent(),
  });
  return instanceId;
};

let jobs = 0;
const newJob = (fields: Partial<JobAssignment> = {}): JobAssignment =>
  cp.assignment(`compute-job-${++jobs}`, fields);
const pidOf = (compute: ProcessCompute, id: string): number => {
  const pid = compute.describe(id)?.pid;
  if (typeof pid !== "number") throw new Error(`${id} has no pid`);
  return pid;
};

describe("ProcessCompute", () => {
  it("offers local, and local-gpu only where the probe finds GPUs", async () => {
    expect(await newCompute(newStateDir(), false).compute.instanceTypes()).toEqual(["local"]);
    expect(await newCompute(newStateDir(), true).compute.instanceTypes()).toEqual([
      "local",
      "local-gpu",
    ]);
    const broken = new ProcessCompute({
      stateDir: newStateDir(),
      gpuProbe: () => Promise.reject(new Error("no driver")),
    });
    computes.push(broken);
    expect(await broken.instanceTypes()).toEqual(["local"]);
  });

  it("launches an id once: asked again, it answers with the instance it launched", async () => {
    const { compute } = newCompute();
    const id = await launchOn(compute);
    const again = await compute.launch({
      instanceId: id,
      instanceType: "local",
      spot: false,
      region: "local",
      jobId: "job-1",
      owner: "ada",
      envHash: "sha256:env",
      agent: agent(),
    });
    expect(again).toEqual({ providerId: `local-${id}` });
    expect((await compute.list()).filter((instance) => instance.instanceId === id)).toHaveLength(1);
  });

  it("refuses an instance type it does not offer, and launches nothing", async () => {
    const { compute, stateDir } = newCompute();
    const pollsBefore = cp.polls.length;
    for (const instanceType of ["local-gpu", "g5.xlarge"]) {
      const launching = compute.launch({
        instanceId: `refused-${instanceType}`,
        instanceType,
        spot: false,
        region: "local",
        jobId: "job-1",
        owner: "ada",
        envHash: "sha256:env",
        agent: agent(),
      });
      await expect(launching).rejects.toBeInstanceOf(ComputeError);
      await expect(launching).rejects.toMatchObject({
        code: "InvalidInstanceType",
        message: `${instanceType} is not offered here; local compute offers local`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cp.polls.length).toBe(pollsBefore);
    expect(await compute.list()).toEqual([]);
    const instances = join(stateDir, "instances");
    expect(existsSync(instances) ? readdirSync(instances) : []).toEqual([]);
  });

  it("runs the agent's bundle, what an instance runs, not its sources", async () => {
    const { compute } = newCompute();
    const id = await launchOn(compute);
    // Read once the child has exec'd: just after a spawn, its command line can still be empty.
    const argv = await waitFor("the agent's command line", async () => {
      const read = (await readFile(`/proc/${pidOf(compute, id)}/cmdline`, "utf8")).split("\0");
      return read.some(Boolean) && read;
    });
    expect(argv).toContain(AGENT_BUNDLE);
    expect(argv.filter((arg) => arg.endsWith(".ts"))).toEqual([]);
    await waitFor("a poll from the bundled agent", () => cp.pollsOf(id).length > 0);
  });

  it("launches an agent on its own folder, which polls with the token it was given", async () => {
    const { compute, stateDir } = newCompute();
    // The control plane's own settings are not for its agents (nor for their jobs).
    process.env.GPUCTL_STATE_DIR = stateDir;
    onTestFinished(() => {
      delete process.env.GPUCTL_STATE_DIR;
    });
    const id = await launchOn(compute, { spot: true });
    const folder = join(stateDir, "instances", id);
    const written = JSON.parse(await readFile(join(folder, "instance.json"), "utf8"));
    expect(written).toMatchObject({ instanceType: "local", spot: true, state: "running" });
    expect(written.pid).toBe(pidOf(compute, id));
    expect(JSON.stringify(written)).not.toContain(cp.token);
    // Its jobs' users get through the folder: its record is not for them.
    expect((await stat(join(folder, "instance.json"))).mode & 0o777).toBe(0o600);
    await waitFor("a poll from the new instance", () => cp.pollsOf(id).length > 0);
    expect(cp.unauthorized).toEqual([]);
    const environ = (await readFile(`/proc/${written.pid}/environ`, "utf8")).split("\0");
    expect(environ).toContain(`GPUCTL_AGENT_HOME=${folder}`);
    expect(environ).toContain(`GPUCTL_INSTANCE_ID=${id}`);
    expect(environ).toContain(`HOME=${folder}`);
    expect(environ.filter((entry) => entry.includes(cp.token))).toEqual([]);
    expect(environ.filter((entry) => entry.startsWith("GPUCTL_STATE_DIR="))).toEqual([]);
    // The agent took its token from a file only it could read, and deleted it.
    expect(existsSync(join(folder, "agent.token"))).toBe(false);
    expect(await readFile(join(folder, "agent.log"), "utf8")).toContain(`agent ${id} polling`);
  });

  it("stops an instance keeping its folder and env cache, and starts it again", async () => {
    const { compute, stateDir } = newCompute();
    const id = await launchOn(compute);
    const first = newJob({ envHash: "sha256:kept", setup: "echo ran >> runs.txt" });
    expect(await cp.task(id, "prepare", first)).toEqual({ ok: true, output: { envCached: false } });
    expect(await cp.task(id, "gearUp", first)).toEqual({ ok: true, output: {} });
    const oldPid = pidOf(compute, id);

    await compute.stop(id);
    expect(processAlive(oldPid)).toBe(false);
    expect(compute.describe(id)).toMatchObject({ state: "stopped", pid: null });
    const folder = join(stateDir, "instances", id);
    expect(JSON.parse(await readFile(join(folder, "instance.json"), "utf8"))).toMatchObject({
      state: "stopped",
      pid: null,
    });
    await compute.stop(id); // stopping a stopped instance is a no-op

    const pollsBefore = cp.pollsOf(id).length;
    await compute.start(id, agent());
    const newPid = pidOf(compute, id);
    expect(newPid).not.toBe(oldPid);
    expect(processAlive(newPid)).toBe(true);
    await compute.start(id, agent()); // starting a running instance is a no-op
    expect(pidOf(compute, id)).toBe(newPid);
    await waitFor("a poll after the restart", () => cp.pollsOf(id).length > pollsBefore);
    expect(cp.pollsOf(id).at(-1)?.envHashes).toEqual(["sha256:kept"]);

    const second = newJob({ envHash: "sha256:kept", setup: "echo ran >> runs.txt" });
    expect(await cp.task(id, "prepare", second)).toEqual({ ok: true, output: { envCached: true } });
    expect(await cp.task(id, "gearUp", second)).toEqual({ ok: true, output: {} });
    expect(await readFile(join(folder, "envs/sha256:kept/runs.txt"), "utf8")).toBe("ran\n");
  });

  it("terminates an instance: the agent and its jobs are gone, and so is the folder", async () => {
    const { compute, stateDir } = newCompute();
    const id = await launchOn(compute);
    const job = newJob({ run: "echo $$ > leader.pid; sleep 60" });
    await cp.task(id, "prepare", job);
    cp.queue(id, "run", job);
    const leaderFile = join(stateDir, "instances", id, "jobs", job.jobId, "leader.pid");
    const pgid = await waitFor("the job to start", async () =>
      existsSync(leaderFile) ? Number(await readFile(leaderFile, "utf8")) || undefined : undefined,
    );
    const pid = pidOf(compute, id);

    await compute.terminate(id);
    expect(processAlive(pid)).toBe(false);
    expect(groupMembers(pgid)).toEqual([]);
    expect(existsSync(join(stateDir, "instances", id))).toBe(false);
    expect(compute.describe(id)).toBeUndefined();
    // As on EC2, terminating what is gone already is done.
    await compute.terminate(id);
  });

  it("interrupts a spot instance: the notice now, the instance gone when the notice ends", async () => {
    const notices: string[] = [];
    const changes: unknown[] = [];
    const stateDir = newStateDir();
    const compute = new ProcessCompute({
      stateDir,
      gpuProbe: async () => false,
      onSpotNotice: (providerId) => notices.push(providerId),
      onStateChange: (change) => changes.push(change),
    });
    computes.push(compute);
    const onDemand = await launchOn(compute);
    expect(() => compute.interrupt(onDemand, { noticeMs: 0 })).toThrow("not a spot instance");
    const id = await launchOn(compute, { spot: true });
    const pid = pidOf(compute, id);

    compute.interrupt(id, { noticeMs: 200 });
    expect(notices).toEqual([`local-${id}`]);
    expect(processAlive(pid)).toBe(true);
    await waitFor("the instance to vanish", () => changes.length > 0);
    expect(changes).toEqual([{ instanceId: id, providerId: `local-${id}`, state: "terminated" }]);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(join(stateDir, "instances", id))).toBe(false);
    expect(compute.describe(id)).toBeUndefined();
  });

  it("names an id it does not know", async () => {
    const { compute } = newCompute();
    await expect(compute.stop("local-nothere")).rejects.toThrow("local-nothere");
    await expect(compute.start("local-nothere", agent())).rejects.toThrow("local-nothere");
  });

  it("kills the jobs of an agent that was killed outright, and records it stopped", async () => {
    const { compute, stateDir } = newCompute();
    const id = await launchOn(compute);
    const job = newJob({ run: "echo $$ > leader.pid; sleep 60 & sleep 60" });
    await cp.task(id, "prepare", job);
    cp.queue(id, "run", job);
    const leaderFile = join(stateDir, "instances", id, "jobs", job.jobId, "leader.pid");
    const pgid = await waitFor("the job to start", async () =>
      existsSync(leaderFile) ? Number(await readFile(leaderFile, "utf8")) || undefined : undefined,
    );
    await waitFor("both sleeps", () => groupMembers(pgid).length >= 3);

    process.kill(pidOf(compute, id), "SIGKILL");
    await waitFor("the orphaned job to be killed", () => groupMembers(pgid).length === 0);
    await waitFor("the instance to be stopped", () => compute.describe(id)?.state === "stopped");
  });

  it("stops every agent it started on shutdown", async () => {
    const { compute } = newCompute();
    const ids = [await launchOn(compute), await launchOn(compute)];
    const pids = ids.map((id) => pidOf(compute, id));
    await compute.shutdown();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect((await compute.list()).map((instance) => instance.state)).toEqual([
      "stopped",
      "stopped",
    ]);
  });

  it("adopts a running agent after a restart and can stop it", async () => {
    const { compute, stateDir } = newCompute();
    const id = await launchOn(compute);
    const pid = pidOf(compute, id);
    const restarted = newCompute(stateDir).compute;
    expect(restarted.describe(id)).toMatchObject({ state: "running", pid, instanceType: "local" });
    await restarted.stop(id);
    expect(processAlive(pid)).toBe(false);
    expect(restarted.describe(id)).toMatchObject({ state: "stopped", pid: null });
  });

  it("agents die with a control plane killed outright; a restart finds them stopped", async () => {
    const stateDir = newStateDir();
    const controlPlane = spawn(
      process.execPath,
      [join(import.meta.dirname, "../agent/launch-one.ts"), stateDir, cp.url, cp.token],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    onTestFinished(() => {
      controlPlane.kill("SIGKILL");
    });
    const lines = createInterface({ input: controlPlane.stdout });
    const [line] = (await once(lines, "line")) as [string];
    const { instanceId, pid } = JSON.parse(line) as { instanceId: string; pid: number };
    onTestFinished(() => {
      if (processAlive(pid)) process.kill(pid, "SIGKILL");
    });
    await waitFor("the agent's first poll", () => cp.pollsOf(instanceId).length > 0);

    controlPlane.kill("SIGKILL");
    await waitFor("the agent to die with its control plane", () => !processAlive(pid));
    const written = JSON.parse(
      await readFile(join(stateDir, "instances", instanceId, "instance.json"), "utf8"),
    );
    expect(written).toMatchObject({ state: "running", pid }); // nobody was left to update it

    const { compute } = newCompute(stateDir);
    expect(compute.describe(instanceId)).toMatchObject({ state: "stopped", pid: null });
    expect((await compute.list()).map((instance) => instance.instanceId)).toEqual([instanceId]);
  });
});

describe("ProcessCompute's faults on live instances", () => {
  /** A compute that records what it reports of instances changed without being asked. */
  const watchedCompute = () => {
    const changes: { instanceId: string; providerId: string; state: string }[] = [];
    const compute = new ProcessCompute({
      stateDir: newStateDir(),
      gpuProbe: async () => false,
      onStateChange: (change) => changes.push(change),
    });
    computes.push(compute);
    return { compute, changes };
  };

  it("reports an agent that exits on its own as stopped, and none it stops, restarts or terminates itself", async () => {
    const { compute, changes } = watchedCompute();
    const asked = await launchOn(compute);
    await compute.restartAgent(asked);
    await compute.stop(asked);
    await compute.start(asked, agent());
    await compute.terminate(asked);
    expect(changes).toEqual([]);

    const killed = await launchOn(compute);
    const pid = pidOf(compute, killed);
    await compute.killAgent(killed);
    expect(processAlive(pid)).toBe(false);
    expect(changes).toEqual([
      { instanceId: killed, providerId: `local-${killed}`, state: "stopped" },
    ]);
    expect(compute.describe(killed)).toMatchObject({ state: "stopped", pid: null });
  });

  it("takes a spot agent that exits on its own as its instance gone: folder deleted, reported terminated", async () => {
    const { compute, changes } = watchedCompute();
    const id = await launchOn(compute, { spot: true });
    await compute.killAgent(id);
    await waitFor("the spot instance's end", () => changes.length > 0);
    expect(changes).toEqual([{ instanceId: id, providerId: `local-${id}`, state: "terminated" }]);
    expect(compute.describe(id)).toBeUndefined();
    expect((await compute.list()).map((instance) => instance.instanceId)).not.toContain(id);
  });

  it("hangs an agent (alive, silent) until it is restarted: a new agent on the same folder", async () => {
    const { compute, changes } = watchedCompute();
    const id = await launchOn(compute);
    const hung = pidOf(compute, id);
    compute.hangAgent(id);
    const pollsBefore = cp.pollsOf(id).length;
    expect(processAlive(hung)).toBe(true);
    expect((await compute.list()).find((instance) => instance.instanceId === id)?.state).toBe(
      "running",
    );

    await compute.restartAgent(id);
    expect(processAlive(hung)).toBe(false);
    expect(pidOf(compute, id)).not.toBe(hung);
    await waitFor("the restarted agent's poll", () => cp.pollsOf(id).length > pollsBefore);
    expect(changes).toEqual([]);
  });

  it("makes an instance vanish: agent and folder gone, reported terminated, no longer listed", async () => {
    const { compute, changes } = watchedCompute();
    const id = await launchOn(compute);
    const pid = pidOf(compute, id);
    await compute.vanish(id);
    expect(processAlive(pid)).toBe(false);
    expect(changes).toEqual([{ instanceId: id, providerId: `local-${id}`, state: "terminated" }]);
    expect(compute.describe(id)).toBeUndefined();
    expect((await compute.list()).map((instance) => instance.instanceId)).not.toContain(id);
    await compute.terminate(id);
  });
});
