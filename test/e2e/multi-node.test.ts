/**
 * Multi-node jobs (Run:ai's MPI jobs) on the local control plane: the real workflow, the
 * real stores, one real agent process per worker.
 */
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
/** The leader's port, the same for every job here: jobs of one env can reuse one another's instances. */
let rendezvousPort: number;
beforeAll(async () => {
  plane = await startTestControlPlane();
  rendezvousPort = await freePort();
});
afterAll(async () => {
  await plane?.stop();
});

/** A port free on this machine now, for the leader to listen on. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });

/**
 * A job whose workers meet as MPI ranks do: each rank sends the leader its rank, the world
 * size and the leader's address it was told, over TCP at that address; the leader writes
 * them all, its own first, to `results/world.json`.
 */
const rendezvousSpec = (workers: number, overrides: Partial<JobSpecInput> = {}): JobSpecInput =>
  trainingSpec({
    name: "mpi-rendezvous",
    workers,
    env: { RENDEZVOUS_PORT: String(rendezvousPort) },
    run: [
      'python3 -c "',
      "import json, os, socket, time",
      "rank = int(os.environ['GPUCTL_RANK']); world = int(os.environ['GPUCTL_WORLD_SIZE'])",
      "leader = os.environ['GPUCTL_LEADER_ADDR']; port = int(os.environ['RENDEZVOUS_PORT'])",
      "me = {'rank': rank, 'world': world, 'leader': leader}",
      "if rank == 0:",
      "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
      "    s.bind((leader, port)); s.listen(); seen = [me]",
      "    while len(seen) < world:",
      "        c, _ = s.accept(); seen.append(json.loads(c.makefile().readline())); c.close()",
      "    os.makedirs('results', exist_ok=True)",
      "    open('results/world.json', 'w').write(json.dumps(seen))",
      "else:",
      "    for _ in range(1200):",
      "        try:",
      "            c = socket.create_connection((leader, port)); break",
      "        except OSError:",
      "            time.sleep(0.05)",
      "    c.sendall((json.dumps(me) + '\\n').encode()); c.close()\"",
    ].join("\n"),
    outputs: ["results"],
    ...overrides,
  });

/** Run:ai's status after each of the job's events, without repeats. */
const runaiStatuses = async (jobId: string) =>
  (await plane.client.jobEvents(jobId))
    .map((event) => event.dialects.runai.status)
    .filter((status, n, all) => status !== all[n - 1]);

/** Instances held for a job (`jobId`), or for any job. */
const held = async (jobId?: string) =>
  (await plane.client.listInstances()).filter(
    (instance) =>
      (instance.status === "LAUNCHING" || instance.status === "EXECUTING") &&
      (jobId === undefined || instance.jobId === jobId),
  );

/**
 * Waits for the job's workflow to free every instance it held (its last step, just after
 * the job ended); fails naming those still held after 20 s.
 */
const allReleased = (jobId?: string) =>
  until(async () => {
    const left = await held(jobId);
    return left.length === 0 || `still held: ${left.map((instance) => instance.id).join(", ")}`;
  });

/** Polls until `check` holds; fails after 20 s with what `check` last said was wrong. */
const until = async (check: () => Promise<true | string>) => {
  const deadline = Date.now() + 20_000;
  for (let result = await check(); result !== true; result = await check()) {
    if (Date.now() > deadline) throw new Error(result);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe("a multi-node job", () => {
  it("gives each worker its rank, the world size and the leader's address, and shows Init:A/B then PodInitializing", async () => {
    const submitted = await plane.client.submitJob(rendezvousSpec(3));
    const done = await plane.finished(submitted.id, 60_000);

    expect(done).toMatchObject({ phase: "COMPLETED", workersTotal: 3, workersReady: 3 });
    const world = JSON.parse(
      new TextDecoder().decode(await plane.client.downloadOutput(done.id, "results/world.json")),
    ) as { rank: number; world: number; leader: string }[];
    expect(world.map((worker) => worker.rank).sort()).toEqual([0, 1, 2]);
    for (const worker of world) expect(worker).toMatchObject({ world: 3, leader: "127.0.0.1" });
    expect(await runaiStatuses(done.id)).toEqual([
      "Pending",
      "Init:0/3",
      "Init:1/3",
      "Init:2/3",
      "ContainerCreating",
      "PodInitializing",
      "Running",
      "Succeeded",
    ]);
    // Three agents, three instances, each cooling for the next job.
    await allReleased(done.id);
    const instances = await plane.client.listInstances();
    expect(instances.map((instance) => instance.status)).toEqual(["COOLING", "COOLING", "COOLING"]);
    await allReleased(done.id);
  });

  it("shows Init:CrashLoopBackOff when a worker's set-up fails, then Init:Error once its retries ran out", async () => {
    const spec = rendezvousSpec(2, {
      setup: 'test "$GPUCTL_RANK" != 1 # rank 1 cannot set up',
      backoffLimit: 1,
    });
    const done = await plane.finished((await plane.client.submitJob(spec)).id, 60_000);

    expect(done).toMatchObject({ phase: "FAILED", reason: "INIT_FAILED", attempt: 2 });
    expect(done.dialects.runai.status).toBe("Init:Error");
    const statuses = await runaiStatuses(done.id);
    expect(statuses).toContain("Init:CrashLoopBackOff");
    expect(statuses.indexOf("Init:CrashLoopBackOff")).toBeLessThan(statuses.indexOf("Init:Error"));
    await allReleased(done.id);
  });

  it("gives back a partial set when capacity runs out part-way, waits, and runs once all fit", async () => {
    // The first job's three instances are warm (its env is this one's): a four-worker job
    // takes them for its workers, then finds no capacity for its leader, once.
    plane.faults.inject({ fault: "noCapacity", times: 1 });
    onTestFinished(() => plane.faults.clear());
    const submitted = await plane.client.submitJob(rendezvousSpec(4));
    const done = await plane.finished(submitted.id, 60_000);

    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1 });
    const events = (await plane.client.jobEvents(done.id)).map((event) => event.type);
    expect(events.filter((type) => type === "workerReleased")).toHaveLength(3);
    expect(events).toContain("capacityWait");
    expect(events.indexOf("capacityWait")).toBeGreaterThan(events.lastIndexOf("workerReleased"));
    expect(await runaiStatuses(done.id)).toContain("Init:0/4");
    await allReleased();
  });

  it("requeues the whole job when one worker's instance vanishes: the other ranks are freed, and a new set runs it", async () => {
    // Each rank's first run waits to be stopped; a later one ends at once.
    const marks = await mkdtemp(join(tmpdir(), "gpuctl-multi-node-"));
    // The agents run each job as a user of its own.
    await chmod(marks, 0o777);
    onTestFinished(() => rm(marks, { recursive: true, force: true }));
    const spec = rendezvousSpec(3, {
      setup: "true # slow first run",
      run: `m="${marks}/rank-$GPUCTL_RANK"; [ -e "$m" ] && exit 0; touch "$m"; sleep 120`,
      outputs: [],
    });
    const jobId = (await plane.client.submitJob(spec)).id;
    const training = await plane.waitFor(jobId, (job) => job.phase === "TRAINING", 60_000);
    // Every rank's instance follows the job to EXECUTING, one after the other.
    await until(async () => {
      const executing = (await held(jobId)).filter((instance) => instance.status === "EXECUTING");
      return executing.length === 3 || `${executing.length} of 3 instances EXECUTING`;
    });
    const workers = (await held(jobId)).filter((instance) => instance.id !== training.instanceId);
    const [gone, other] = workers;
    if (!gone || !other || !training.instanceId) throw new Error("no placement");
    await plane.compute.vanish(gone.id);

    const done = await plane.finished(jobId, 30_000);
    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1, requeues: 1 });
    const events = await plane.client.jobEvents(jobId);
    expect(events.find((event) => event.type === "instanceGone")).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "INSTANCE_VANISHED",
    });
    await allReleased();
    const instances = await plane.client.listInstances();
    expect(instances.find((instance) => instance.id === gone.id)?.status).toBe("CLOSED");
    // The leader and the other worker of the lost set were freed, not left holding the job.
    for (const freed of [training.instanceId, other.id])
      expect(instances.find((instance) => instance.id === freed)?.status).toMatch(/COOLING|CLOSED/);
  });

  it("stops every rank's run on cancel, and frees every rank's instance", async () => {
    const marks = await mkdtemp(join(tmpdir(), "gpuctl-multi-node-"));
    await chmod(marks, 0o777);
    onTestFinished(() => rm(marks, { recursive: true, force: true }));
    const spec = rendezvousSpec(2, {
      setup: "true # canceled",
      run: `touch "${marks}/running-$GPUCTL_RANK"; sleep 120`,
      outputs: [],
    });
    const jobId = (await plane.client.submitJob(spec)).id;
    // Canceled once both ranks run.
    await until(() =>
      Promise.all([0, 1].map((rank) => stat(join(marks, `running-${rank}`)))).then(
        () => true,
        () => "not every rank runs yet",
      ),
    );
    await plane.client.cancelJob(jobId);

    const done = await plane.finished(jobId, 30_000);
    expect(done).toMatchObject({ phase: "CANCELED" });
    expect(done.dialects.runai.status).toBe("Deleted");
    await allReleased(jobId);
  });
});
