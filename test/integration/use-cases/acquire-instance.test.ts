import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import {
  type ComputeFaultRule,
  ComputeFaults,
  withComputeFaults,
} from "../../../lambdas/adapters/local/compute-faults.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import {
  type Instance,
  type InstanceEvent,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import { envHashOf, type JobSpec } from "../../../lambdas/domain/job-spec.ts";
import {
  type Compute,
  ComputeError,
  type CoolingTimers,
  type LaunchRequest,
} from "../../../lambdas/ports.ts";
import { acquireInstance } from "../../../lambdas/use-cases/acquire-instance.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores, newRecord } from "../stores.ts";

const AT = "2026-01-01T00:00:00.000Z";
const SCHEDULE = { coolingUntil: AT, stoppedUntil: "2026-01-01T01:00:00.000Z" };

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/** A compute that launches as EC2 would (its own ids) and, when told, has no capacity to start. */
const fakeCompute = (options: { startRefused?: boolean; types?: string[] } = {}) => {
  const launches: LaunchRequest[] = [];
  const compute = {
    instanceTypes: async () => options.types ?? ["g5.xlarge"],
    launch: async (request: LaunchRequest) => {
      launches.push(request);
      return { providerId: `i-0${launches.length}` };
    },
    start: async (instanceId: string) => {
      if (options.startRefused)
        throw new ComputeError("InsufficientInstanceCapacity", `${instanceId}: no capacity`);
    },
  } as unknown as Compute;
  return { compute, launches };
};

/** The cooling timers each acquisition stopped, by name. */
let timersStopped: string[] = [];
const coolingTimers: CoolingTimers = {
  stop: async (name) => {
    timersStopped.push(name);
  },
};

const controlPlane = (compute: Compute, region = "eu-west-1", time = AT) =>
  ({
    ...stores.at(time),
    pools: new DynamoPoolStats(stores),
    compute,
    coolingTimers,
    commands: new MemoryCommandQueue(),
    settings: {
      region,
      agent: { endpoint: "https://api", secret: "s" },
      costModel: DEFAULT_COST_MODEL,
    },
  }) as unknown as ControlPlane;

let jobs = 0;
const submitted = async (owner = "ada", instance: Partial<JobSpec["instance"]> = {}) => {
  const base = newRecord({ id: `acquire-${++jobs}`, spot: instance.spot ?? false }, { owner });
  const record = {
    ...base,
    spec: { ...base.spec, instance: { ...base.spec.instance, types: ["g5.xlarge"], ...instance } },
  };
  await stores.jobs.submit({ record });
  return record;
};

const RELEASED: InstanceEvent[] = [{ type: "agentRegistered" }, { type: "released", ...SCHEDULE }];
const STOPPED: InstanceEvent[] = [
  ...RELEASED,
  { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
  { type: "stopped" },
];

/** A reusable instance of the g5.xlarge pool: warm (COOLING) or STOPPED. */
const reusableInstance = async (
  id: string,
  pool: { envHash: string; owner: string; region?: string },
  events: InstanceEvent[],
): Promise<Instance> => {
  const { envHash, owner, region = "eu-west-1" } = pool;
  const instancePool = { instanceType: "g5.xlarge", envHash, region, owner };
  const instance = events.reduce(
    (current, event) => {
      const next = transitionInstance(current, event);
      if (!next.ok) throw new Error(next.refusal.message);
      return next.instance;
    },
    launchInstance({
      id,
      providerId: `i-${id}`,
      pool: instancePool,
      spot: false,
      jobId: "earlier",
    }),
  );
  await stores.instances.create(instance, AT);
  return instance;
};

const stoppedInstance = (id: string, envHash: string) =>
  reusableInstance(id, { envHash, owner: "ada" }, STOPPED);

describe("acquiring an instance", () => {
  it("records the new instance with the compute's id for it, and finds it by that id", async () => {
    const record = await submitted();
    const { compute, launches } = fakeCompute();
    const placement = await acquireInstance(controlPlane(compute), record.job.id);
    expect(placement.placement).toBe("launched");
    expect(launches[0]).toMatchObject({ jobId: record.job.id, owner: "ada" });
    const stored = await stores.instances.get(placement.instanceId);
    expect(stored).toMatchObject({ providerId: "i-01", status: "LAUNCHING" });
    expect(await stores.instances.getByProviderId("i-01")).toEqual(stored);
    expect(await stores.instances.getByProviderId("i-unknown")).toBeUndefined();
  });

  it("puts a stopped instance that cannot start back to STOPPED, and launches another", async () => {
    const record = await submitted();
    const stopped = await stoppedInstance(`stopped-${jobs}`, envHashOf(record.spec));
    const { compute, launches } = fakeCompute({ startRefused: true });

    const placement = await acquireInstance(controlPlane(compute), record.job.id);

    expect(placement.placement).toBe("launched");
    expect(launches).toHaveLength(1);
    const back = await stores.instances.get(stopped.id);
    expect(back).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
      providerId: stopped.providerId,
      coolingEpoch: stopped.coolingEpoch,
      ...SCHEDULE,
    });
    const job = await stores.jobs.get(record.job.id);
    expect(job?.job).toMatchObject({
      phase: "CONNECTING_SERVER",
      instanceId: placement.instanceId,
    });
    const events = (await stores.jobs.events(record.job.id)).map((e) => e.event.type);
    expect(events).toEqual(
      expect.arrayContaining(["instanceStarted", "instanceStartFailed", "instanceLaunched"]),
    );
  });

  it("stops the cooling timer of the warm or stopped instance it takes, and of no other", async () => {
    for (const events of [RELEASED, STOPPED]) {
      const record = await submitted();
      const envHash = envHashOf(record.spec);
      const reusable = await reusableInstance(`timed-${jobs}`, { envHash, owner: "ada" }, events);
      timersStopped = [];

      const placement = await acquireInstance(controlPlane(fakeCompute().compute), record.job.id);

      expect(placement.instanceId).toBe(reusable.id);
      expect(timersStopped).toEqual([`${reusable.id}-cooling-1`]);
    }
    const record = await submitted();
    await stoppedInstance(`unstartable-${jobs}`, envHashOf(record.spec));
    timersStopped = [];
    await acquireInstance(controlPlane(fakeCompute({ startRefused: true }).compute), record.job.id);
    expect(timersStopped).toEqual([]);
  });

  it("never hands one owner's warm or stopped instance to another owner's job", async () => {
    const owners = ["ada", "grace", "ada#grace"];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ owner: fc.constantFrom(...owners), stopped: fc.boolean() }), {
          maxLength: 4,
        }),
        fc.constantFrom(...owners),
        async (reusable, jobOwner) => {
          // Each run its own region: the instances of earlier runs are in other pools.
          const region = `property-${++run}`;
          const record = await submitted(jobOwner);
          const envHash = envHashOf(record.spec);
          const waiting = await Promise.all(
            reusable.map(({ owner, stopped }, n) =>
              reusableInstance(
                `${region}-${n}`,
                { envHash, owner, region },
                stopped ? STOPPED : RELEASED,
              ),
            ),
          );
          const { compute } = fakeCompute();
          const placement = await acquireInstance(controlPlane(compute, region), record.job.id);

          const placed = await stores.instances.get(placement.instanceId);
          expect(placed?.pool.owner).toBe(jobOwner);
          const ownWaiting = waiting.some((instance) => instance.pool.owner === jobOwner);
          expect(placement.placement === "launched").toBe(!ownWaiting);
          for (const other of waiting.filter((instance) => instance.pool.owner !== jobOwner))
            expect((await stores.instances.get(other.id))?.version).toBe(other.version);
        },
      ),
      { numRuns: 15 },
    );
  });

  it("leaves a warm on-demand instance to jobs that may run on on-demand capacity", async () => {
    const spotOnly = await submitted("ada", { spot: true, onDemandFallback: false });
    const warm = await reusableInstance(
      "gi-warm-on-demand",
      { envHash: envHashOf(spotOnly.spec), owner: "ada", region: "market" },
      RELEASED,
    );
    const { compute } = fakeCompute();
    const spotPlacement = await acquireInstance(controlPlane(compute, "market"), spotOnly.job.id);
    expect(spotPlacement.placement).toBe("launched");
    expect((await stores.instances.get(warm.id))?.status).toBe("COOLING");

    const fallback = await submitted("ada", { spot: true, onDemandFallback: true });
    const placement = await acquireInstance(controlPlane(compute, "market"), fallback.job.id);
    expect(placement).toMatchObject({ instanceId: warm.id, placement: "warm" });
  });
});

describe("capacity", () => {
  const TYPES = ["g5.xlarge", "g6.xlarge"];
  /** The fake compute, offering both types, with `rules` in force. */
  const faulty = (...rules: ComputeFaultRule[]) => {
    const { compute, launches } = fakeCompute({ types: TYPES });
    const faults = new ComputeFaults();
    for (const rule of rules) faults.inject(rule);
    const instanceTypeOf = async (id: string) =>
      (await stores.instances.get(id))?.pool.instanceType;
    return { compute: withComputeFaults(compute, faults, instanceTypeOf), launches, faults };
  };
  /** A region of their own: the instances other tests left waiting are not in it. */
  const plane = (compute: Compute, time = AT) => controlPlane(compute, "capacity", time);
  const jobOf = async (jobId: string) => (await stores.jobs.get(jobId))?.job;
  const eventTypes = async (jobId: string) =>
    (await stores.jobs.events(jobId)).map((event) => event.event.type);
  const secondsAfter = (seconds: number) => new Date(Date.parse(AT) + seconds * 1000).toISOString();

  it("launches the next instance type of the spec when the first has no capacity", async () => {
    const record = await submitted("ada", { types: TYPES });
    const { compute, launches } = faulty({ fault: "noCapacity", instanceType: "g5.xlarge" });

    const placement = await acquireInstance(plane(compute), record.job.id);

    expect(placement).toMatchObject({ placement: "launched", pool: { instanceType: "g6.xlarge" } });
    expect(launches.map((launch) => launch.instanceType)).toEqual(["g6.xlarge"]);
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "CONNECTING_SERVER" });
    expect(await eventTypes(record.job.id)).not.toContain("capacityWait");
  });

  it("takes on-demand capacity when spot is not granted and the spec allows it", async () => {
    const record = await submitted("ada", { spot: true, onDemandFallback: true });
    const { compute, launches } = faulty({ fault: "spotUnavailable" });

    const placement = await acquireInstance(plane(compute), record.job.id);

    expect(launches.map((launch) => launch.spot)).toEqual([false]);
    expect(await stores.instances.get(placement.instanceId)).toMatchObject({ spot: false });
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "CONNECTING_SERVER", spot: true });
  });

  it("waits QUEUED rather than take on-demand capacity the spec does not allow", async () => {
    const record = await submitted("ada", { spot: true, onDemandFallback: false });
    const { compute, launches } = faulty({ fault: "spotUnavailable" });

    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.NoCapacity",
    });
    expect(launches).toEqual([]);
    expect(await jobOf(record.job.id)).toMatchObject({
      phase: "QUEUED",
      reason: "INSUFFICIENT_CAPACITY",
    });
  });

  it("waits QUEUED while no type has capacity, and places the job once one has", async () => {
    const record = await submitted("ada", { types: TYPES, waitRequestS: 600 });
    const { compute, faults, launches } = faulty({ fault: "noCapacity" });

    for (const time of [AT, secondsAfter(599)]) {
      await expect(acquireInstance(plane(compute, time), record.job.id)).rejects.toMatchObject({
        name: "gpuctl.NoCapacity",
      });
      expect(await jobOf(record.job.id)).toMatchObject({
        phase: "QUEUED",
        reason: "INSUFFICIENT_CAPACITY",
        attempt: 1,
      });
    }
    faults.clear();
    const placement = await acquireInstance(plane(compute, secondsAfter(599)), record.job.id);
    expect(placement.placement).toBe("launched");
    expect(launches).toHaveLength(1);
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "CONNECTING_SERVER" });
  });

  it("fails the job NO_CAPACITY once it has waited its waitRequestS since it first went QUEUED", async () => {
    const record = await submitted("ada", { types: TYPES, waitRequestS: 600 });
    const { compute, launches } = faulty({ fault: "noCapacity" });
    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.NoCapacity",
    });

    const late = plane(compute, secondsAfter(600));
    await expect(acquireInstance(late, record.job.id)).rejects.toMatchObject({
      name: "gpuctl.LaunchFailed",
    });

    const job = await jobOf(record.job.id);
    expect(job).toMatchObject({ phase: "FAILED", reason: "NO_CAPACITY" });
    expect(job && jobDialects(job)).toMatchObject({
      aibro: { status: "CANCELED", substatus: "CANCELED" },
      runai: { status: "Fail" },
      modelarts: { code: 5, name: "JOBSTAT_SUBMIT_FAILED" },
    });
    expect(launches).toEqual([]);
  });

  it("fails at once a job that asks to wait 0 s for capacity", async () => {
    const record = await submitted("ada", { waitRequestS: 0 });
    const { compute } = faulty({ fault: "noCapacity" });
    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.LaunchFailed",
    });
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "FAILED", reason: "NO_CAPACITY" });
  });

  it("says QUOTA_EXCEEDED when every refusal was a quota", async () => {
    const record = await submitted();
    const compute = {
      instanceTypes: async () => ["g5.xlarge"],
      launch: async () => {
        throw new ComputeError("QuotaExceeded", "VcpuLimitExceeded");
      },
    } as unknown as Compute;
    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.NoCapacity",
    });
    expect(await jobOf(record.job.id)).toMatchObject({
      phase: "QUEUED",
      reason: "QUOTA_EXCEEDED",
    });
  });

  it("leaves a throttled launch to be asked again: no wait, no failed attempt", async () => {
    const record = await submitted("ada", { types: TYPES });
    const { compute, faults, launches } = faulty({ fault: "throttled" });

    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.Throttled",
    });
    expect(launches).toEqual([]);
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "REQUESTING_SERVER", attempt: 1 });

    faults.clear();
    await acquireInstance(plane(compute), record.job.id);
    expect(await eventTypes(record.job.id)).toEqual(["submitted", "admitted", "instanceLaunched"]);
  });

  it("puts a stopped instance whose start was throttled back to STOPPED, and asks again later", async () => {
    const record = await submitted();
    const envHash = envHashOf(record.spec);
    const stopped = await reusableInstance(
      `throttled-${jobs}`,
      { envHash, owner: "ada", region: "capacity" },
      STOPPED,
    );
    const { compute, launches } = faulty({ fault: "throttled", times: 1 });

    await expect(acquireInstance(plane(compute), record.job.id)).rejects.toMatchObject({
      name: "gpuctl.Throttled",
    });
    expect(launches).toEqual([]);
    expect(await stores.instances.get(stopped.id)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });
    expect(await jobOf(record.job.id)).toMatchObject({ phase: "REQUESTING_SERVER" });

    const placement = await acquireInstance(plane(compute), record.job.id);
    expect(placement).toMatchObject({ instanceId: stopped.id, placement: "stopped" });
  });
});

describe("a multi-node job's set of instances", () => {
  /** A region of its own per test: other tests' instances are in other pools. */
  let regions = 0;
  /** A compute with capacity for `capacity` launches, then none; it records what it terminated. */
  const limited = (capacity: number) => {
    const { compute, launches } = fakeCompute();
    const terminated: string[] = [];
    const limitedCompute = {
      ...compute,
      launch: (request: LaunchRequest) =>
        launches.length < capacity
          ? compute.launch(request)
          : Promise.reject(new ComputeError("InsufficientInstanceCapacity", "no capacity")),
      terminate: async (instanceId: string) => {
        terminated.push(instanceId);
      },
    } as Compute;
    return { compute: limitedCompute, launches, terminated };
  };
  const multiNode = async (workers: number) => {
    const base = newRecord({ id: `set-${++jobs}`, workers });
    const record = {
      ...base,
      spec: { ...base.spec, workers, instance: { ...base.spec.instance, types: ["g5.xlarge"] } },
    };
    await stores.jobs.submit({ record });
    return record;
  };
  const held = async (ids: string[]) =>
    Promise.all(ids.map(async (id) => (await stores.instances.get(id))?.status));

  it("takes every rank's instance, the leader last, each held for the job", async () => {
    const region = `set-${++regions}`;
    const record = await multiNode(3);
    const { compute, launches } = limited(3);

    const placement = await acquireInstance(controlPlane(compute, region), record.job.id);

    const job = (await stores.jobs.get(record.job.id))?.job;
    expect(job).toMatchObject({ phase: "CONNECTING_SERVER", instanceId: placement.instanceId });
    expect(job?.workerInstanceIds).toHaveLength(2);
    const all = [placement.instanceId, ...(job?.workerInstanceIds ?? [])];
    expect(new Set(all).size).toBe(3);
    expect(launches.map((launch) => launch.instanceId)).toEqual([...all.slice(1), all[0]]);
    for (const id of all)
      expect(await stores.instances.get(id)).toMatchObject({
        status: "LAUNCHING",
        jobId: record.job.id,
      });
  });

  it("with capacity for part of the set, gives it all back and waits QUEUED: the warm one cools on, the launched one is terminated", async () => {
    const region = `set-${++regions}`;
    const record = await multiNode(3);
    const envHash = envHashOf(record.spec);
    const warm = await reusableInstance(
      `warm-${jobs}`,
      { envHash, owner: "ada", region },
      RELEASED,
    );
    const { compute, launches, terminated } = limited(1);
    timersStopped = [];

    await expect(
      acquireInstance(controlPlane(compute, region), record.job.id),
    ).rejects.toMatchObject({ name: "gpuctl.NoCapacity" });

    const job = (await stores.jobs.get(record.job.id))?.job;
    expect(job).toMatchObject({ phase: "QUEUED", reason: "INSUFFICIENT_CAPACITY" });
    expect(job?.workerInstanceIds).toBeUndefined();
    const launched = launches.map((launch) => launch.instanceId);
    expect(launched).toHaveLength(1);
    expect(terminated).toEqual(launched);
    expect(await held(launched)).toEqual(["CLOSED"]);
    // The warm one cools on under the timer it had: same plan, same epoch, its timer left running.
    expect(await stores.instances.get(warm.id)).toMatchObject({
      status: "COOLING",
      coolingEpoch: warm.coolingEpoch,
      ...SCHEDULE,
    });
    expect(timersStopped).toEqual([]);
    const events = (await stores.jobs.events(record.job.id)).map((event) => event.event.type);
    expect(events).toEqual([
      "submitted",
      "admitted",
      "workerPlaced",
      "workerPlaced",
      "workerReleased",
      "workerReleased",
      "capacityWait",
    ]);
    expect(jobDialects(job ?? record.job).runai.status).toBe("Pending");

    // Capacity back: the next try takes the whole set, the warm instance with it.
    const placement = await acquireInstance(
      controlPlane(limited(2).compute, region),
      record.job.id,
    );
    const placed = (await stores.jobs.get(record.job.id))?.job;
    expect(placed?.phase).toBe("CONNECTING_SERVER");
    expect([placement.instanceId, ...(placed?.workerInstanceIds ?? [])]).toContain(warm.id);
    expect(timersStopped).toEqual([`${warm.id}-cooling-1`]);
  });

  it("keeps the ranks it took when a launch is throttled, and the next try takes only the missing ones", async () => {
    const region = `set-${++regions}`;
    const record = await multiNode(3);
    const { compute, launches } = fakeCompute();
    const faults = new ComputeFaults();
    const faulty = withComputeFaults(compute, faults, async () => "g5.xlarge");
    // The second launch is throttled, once.
    const throttledSecond = {
      ...faulty,
      launch: (request: LaunchRequest) => {
        if (launches.length === 1) faults.inject({ fault: "throttled", times: 1 });
        return faulty.launch(request);
      },
    } as Compute;

    await expect(
      acquireInstance(controlPlane(throttledSecond, region), record.job.id),
    ).rejects.toMatchObject({ name: "gpuctl.Throttled" });
    const partial = (await stores.jobs.get(record.job.id))?.job;
    expect(partial).toMatchObject({ phase: "REQUESTING_SERVER" });
    expect(partial?.workerInstanceIds).toHaveLength(1);

    await acquireInstance(controlPlane(faulty, region), record.job.id);
    const job = (await stores.jobs.get(record.job.id))?.job;
    expect(job?.phase).toBe("CONNECTING_SERVER");
    expect(job?.workerInstanceIds?.[0]).toBe(partial?.workerInstanceIds?.[0]);
    expect(launches).toHaveLength(3);
  });
});
