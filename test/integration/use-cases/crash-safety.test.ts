/**
 * Crash safety: a handler may die right after any side effect it had, and is then run
 * again (a Lambda retried by its state, an agent's report sent again, a reaper's next run).
 * Each use case below runs once crash-free; then, for each side effect in turn (a store
 * write, a compute call, a workflow start or report, a mailbox command, an event
 * published), a fresh world runs it with that effect followed by a crash, runs it again,
 * and must end exactly as the crash-free run did: no second instance launched, no instance
 * held by two jobs, no job event twice. On DynamoDB Local, the real stores.
 */
import { describe, expect, it } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import {
  INSTANCE_STATUSES,
  type Instance,
  launchInstance,
} from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import { envHashOf } from "../../../lambdas/domain/job-spec.ts";
import {
  type Compute,
  type ComputeInstance,
  ExecutionAlreadyExists,
  type Workflows,
} from "../../../lambdas/ports.ts";
import { acquireInstance } from "../../../lambdas/use-cases/acquire-instance.ts";
import { dispatchStep, reportStepSuccess } from "../../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { cancelJob, releaseInstance } from "../../../lambdas/use-cases/finish-job.ts";
import { reap } from "../../../lambdas/use-cases/reap.ts";
import { runInstance } from "../../fixtures/instances.ts";
import { freshStores, newRecord } from "../stores.ts";

const NOW = "2026-01-01T01:00:00.000Z";
const ADA = { userId: "ada", email: "ada@example.org", role: "user" as const };

class Crash extends Error {
  override readonly name = "Crash";
}

/** EC2 as the port promises it: a launch is once per instance id, closes are idempotent. */
const memoryCompute = () => {
  const instances = new Map<string, ComputeInstance>();
  let launches = 0;
  const set = (instanceId: string, state: ComputeInstance["state"]) => {
    const known = instances.get(instanceId);
    if (known) instances.set(instanceId, { ...known, state });
  };
  const compute: Compute = {
    instanceTypes: async () => ["local"],
    launch: async ({ instanceId }) => {
      if (!instances.has(instanceId)) {
        launches += 1;
        instances.set(instanceId, {
          instanceId,
          providerId: `i-${instanceId}`,
          state: "running",
          launchedAt: NOW,
        });
      }
      return { providerId: `i-${instanceId}` };
    },
    start: async (instanceId) => set(instanceId, "running"),
    stop: async (instanceId) => set(instanceId, "stopped"),
    restartAgent: async () => {},
    terminate: async (instanceId) => void instances.delete(instanceId),
    serviceAddress: async () => ({ host: "127.0.0.1", port: 8000 }),
    list: async () => [...instances.values()],
  };
  return { compute, instances, launches: () => launches };
};

/** Step Functions as the port promises it: a name is one execution; reports are recorded. */
const memoryWorkflows = () => {
  const started = new Map<string, string>();
  const reports: string[] = [];
  const workflows: Workflows = {
    start: async (machine, name, input) => {
      const key = `${machine}/${name}`;
      const known = started.get(key);
      if (known !== undefined && known !== JSON.stringify(input))
        throw new ExecutionAlreadyExists(key);
      started.set(key, JSON.stringify(input));
      return { executionId: key };
    },
    sendTaskSuccess: async (token) => void reports.push(`success ${token}`),
    sendTaskFailure: async (token, error) => void reports.push(`${error} ${token}`),
    sendTaskHeartbeat: async () => {},
  };
  return { workflows, started, reports };
};

/** The methods of each port that change something outside the handler. */
const SIDE_EFFECTS: Record<string, readonly string[]> = {
  jobs: ["submit", "apply", "recordTimeline", "setEndpoint", "setTaskToken"],
  instances: ["create", "apply"],
  pools: ["update"],
  compute: ["launch", "start", "stop", "terminate"],
  commands: ["open", "push", "close"],
  workflows: ["start", "sendTaskSuccess", "sendTaskFailure"],
  coolingTimers: ["stop"],
  events: ["publish"],
};

/**
 * The ports with every side effect counted, and the one numbered `crashAt` followed by a
 * crash: it took effect, then the handler died before it could do anything else.
 */
const crashing = (cp: ControlPlane, plan: { crashAt?: number; count: number; effects: string[] }) =>
  Object.fromEntries(
    Object.entries(cp).map(([name, port]) => {
      const methods = SIDE_EFFECTS[name];
      if (!methods) return [name, port];
      const wrapped = Object.create(port) as Record<string, unknown>;
      for (const method of methods) {
        const real = (port as Record<string, unknown>)[method];
        if (typeof real !== "function") continue;
        wrapped[method] = async (...args: unknown[]) => {
          const result = await real.apply(port, args);
          const index = plan.count++;
          plan.effects.push(`${name}.${method}`);
          if (index === plan.crashAt) throw new Crash(`crashed after ${name}.${method}`);
          return result;
        };
      }
      return [name, wrapped];
    }),
  ) as unknown as ControlPlane;

/** A fresh world: a table of its own on DynamoDB Local, a compute, workflows, a mailbox. */
const freshWorld = async () => {
  const stores = await freshStores();
  const compute = memoryCompute();
  const workflows = memoryWorkflows();
  const commands = new MemoryCommandQueue();
  const pools = new DynamoPoolStats(stores);
  const cp = {
    ...stores.at(NOW),
    pools,
    compute: compute.compute,
    workflows: workflows.workflows,
    coolingTimers: { stop: async () => {} },
    commands,
    artifacts: { inputDownload: async () => "http://127.0.0.1/input" },
    settings: {
      ...stores.at(NOW).settings,
      region: "local",
      agent: { endpoint: "http://127.0.0.1", secret: "secret" },
    },
  } as unknown as ControlPlane;
  return { stores, compute, workflows, commands, cp };
};
type World = Awaited<ReturnType<typeof freshWorld>>;

const allInstances = async (world: World): Promise<Instance[]> =>
  (
    await Promise.all(
      INSTANCE_STATUSES.map((status) => world.stores.instances.listByStatus(status)),
    )
  ).flat();

/** What a run leaves behind, in terms that must not depend on whether it crashed on the way. */
const endState = async (world: World, jobIds: readonly string[]) => {
  const jobs = await Promise.all(
    jobIds.map(async (id) => {
      const record = await world.stores.jobs.get(id);
      const history = await world.stores.jobs.events(id);
      return {
        id,
        phase: record?.job.phase,
        reason: record?.job.reason,
        instanceId: record?.job.instanceId,
        history: history.map((entry) => entry.event.type),
      };
    }),
  );
  const instances = (await allInstances(world))
    .map((instance) => ({
      id: instance.id,
      status: instance.status,
      ...("substatus" in instance ? { substatus: instance.substatus } : {}),
      ...("jobId" in instance ? { jobId: instance.jobId } : {}),
      coolingEpoch: instance.coolingEpoch,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const running = [...world.compute.instances.values()]
    .map(({ instanceId, state }) => `${instanceId} ${state}`)
    .sort();
  return {
    jobs,
    instances,
    compute: running,
    launches: world.compute.launches(),
    executions: [...world.workflows.started.keys()].sort(),
    reports: [...new Set(world.workflows.reports)].sort(),
  };
};

/** Each job status change published: the job, the event, and the phase it moved from and to. */
const jobEventsPublished = (world: World) =>
  world.stores.published.flatMap((event) =>
    event["detail-type"] === "Job Status Changed"
      ? [
          `${event.detail.data.jobId} ${event.detail.data.event} ${event.detail.data.from} -> ${event.detail.data.phase}`,
        ]
      : [],
  );

interface Scenario {
  name: string;
  jobIds: readonly string[];
  /** Puts the world as the use case finds it. */
  seed: (world: World) => Promise<void>;
  /** The use case, as its handler calls it; run again after a crash. */
  run: (cp: ControlPlane, world: World) => Promise<unknown>;
}

/** Runs the scenario crash-free, then with a crash after each of its side effects in turn. */
const checkCrashes = async (scenario: Scenario) => {
  const clean = await freshWorld();
  await scenario.seed(clean);
  const cleanPlan = { count: 0, effects: [] as string[] };
  await scenario.run(crashing(clean.cp, cleanPlan), clean);
  const expected = await endState(clean, scenario.jobIds);
  const expectedEvents = jobEventsPublished(clean);
  expect(cleanPlan.effects.length).toBeGreaterThan(0);

  for (let crashAt = 0; crashAt < cleanPlan.effects.length; crashAt += 1) {
    const world = await freshWorld();
    await scenario.seed(world);
    const plan = { crashAt, count: 0, effects: [] as string[] };
    const cp = crashing(world.cp, plan);
    // A crash the handler's own code catches (a failed call it tolerates) goes on as it would.
    await scenario.run(cp, world).catch((error: unknown) => {
      if (!(error instanceof Crash)) throw error;
    });
    expect(plan.count).toBeGreaterThan(crashAt);
    await scenario.run(crashing(world.cp, { count: 0, effects: [] }), world);
    const after = `${scenario.name}, crashed after effect ${crashAt} (${cleanPlan.effects[crashAt]}) of ${cleanPlan.effects.join(", ")}`;
    expect(await endState(world, scenario.jobIds), after).toEqual(expected);
    // Consumers (notifications, webhooks) see each change of a job once, and none that
    // did not happen. A crash between a write and its publish loses the event: the job's
    // own history has it (docs/reliability.md, "Crash safety").
    const published = jobEventsPublished(world);
    expect(published, after).toEqual([...new Set(published)]);
    for (const event of published) expect(expectedEvents, after).toContain(event);
  }
};

const pool = (owner = "ada") => ({
  instanceType: "local",
  envHash: envHashOf(newRecord({ id: "any" }).spec),
  region: "local",
  owner,
});

/** A job in `phase` on instance `instanceId`, the task its workflow waits on recorded. */
const seedJob = async (world: World, id: string, fields: Partial<Job>, taskToken?: string) => {
  const job: Job = { ...newRecord({ id }).job, ...fields };
  await world.stores.jobs.submit({ record: newRecord({ id }, { job }) });
  if (taskToken) await world.stores.jobs.setTaskToken(id, taskToken);
};

/** A job sending its inputs to its instance, whose agent answers. */
const seedSendingInputs = async (world: World, jobId: string) => {
  const instanceId = `gi-${jobId}`;
  await seedJob(world, jobId, { phase: "SENDING_MODEL_AND_DATA", instanceId });
  const instance = runInstance(
    launchInstance({
      id: instanceId,
      providerId: `i-${instanceId}`,
      pool: pool(),
      spot: false,
      jobId,
    }),
    { type: "agentRegistered" },
  );
  await world.stores.instances.create(instance, NOW);
  await world.commands.open(instanceId);
};

/** An instance working for `jobId`, known to the compute. */
const seedExecuting = async (world: World, id: string, jobId: string) => {
  const instance = runInstance(
    launchInstance({ id, providerId: `i-${id}`, pool: pool(), spot: false, jobId }),
    { type: "agentRegistered" },
    { type: "jobRunning" },
  );
  await world.stores.instances.create(instance, NOW);
  await world.compute.compute.launch({
    instanceId: id,
    instanceType: "local",
    spot: false,
    jobId,
    owner: "ada",
    envHash: pool().envHash,
    region: "local",
    agent: { endpoint: "http://127.0.0.1", token: "t" },
  });
  return instance;
};

describe("a handler that crashes after any side effect, run again, ends as one that did not crash", () => {
  it("acquire: launches one instance for the job, however often it is retried", async () => {
    await checkCrashes({
      name: "acquire",
      jobIds: ["job-a"],
      seed: (world) => seedJob(world, "job-a", {}),
      run: (cp) => acquireInstance(cp, "job-a"),
    });
  });

  it("acquire: claims a cooling instance once, and no second job gets it", async () => {
    await checkCrashes({
      name: "claim",
      jobIds: ["job-b"],
      seed: async (world) => {
        const cooling = runInstance(await seedExecuting(world, "gi-warm", "earlier"), {
          type: "released",
          coolingUntil: "2026-01-01T02:00:00.000Z",
          stoppedUntil: "2026-01-01T03:00:00.000Z",
        });
        await world.stores.instances.apply({
          before: (await world.stores.instances.get("gi-warm")) as Instance,
          after: cooling,
          at: NOW,
        });
        await seedJob(world, "job-b", {});
      },
      run: (cp) => acquireInstance(cp, "job-b"),
    });
  });

  it("dispatch: the agent's step is recorded and sent", async () => {
    await checkCrashes({
      name: "dispatch",
      jobIds: ["job-c"],
      seed: (world) => seedSendingInputs(world, "job-c"),
      run: (cp) => dispatchStep(cp, { jobId: "job-c", step: "sendInputs", taskToken: "token-c" }),
    });
  });

  it("report: the agent's report moves the job, its instance and its workflow once", async () => {
    const sealedIn = new WeakMap<World, string>();
    await checkCrashes({
      name: "report",
      jobIds: ["job-c"],
      seed: async (world) => {
        await seedSendingInputs(world, "job-c");
        await dispatchStep(world.cp, { jobId: "job-c", step: "sendInputs", taskToken: "token-c" });
        const command = await world.commands.next("gi-job-c", 0);
        if (!command || !("taskToken" in command)) throw new Error("no command for the agent");
        sealedIn.set(world, command.taskToken);
      },
      run: async (cp, world) => {
        const assignment = { instanceId: "gi-job-c", jobId: "job-c", attempt: 1, requeues: 0 };
        const reported = await reportStepSuccess(cp, assignment, sealedIn.get(world) ?? "", {
          phase: "TRAINING",
        });
        if (!reported.ok) throw new Error(reported.message);
      },
    });
  });

  it("release: a completed job's instance cools once, with one timer", async () => {
    await checkCrashes({
      name: "release",
      jobIds: ["job-d"],
      seed: async (world) => {
        await seedJob(world, "job-d", { phase: "COMPLETED", instanceId: "gi-d" });
        await seedExecuting(world, "gi-d", "job-d");
      },
      run: (cp) => releaseInstance(cp, "job-d"),
    });
  });

  it("cancel: the job is CANCELING once, its agent and its workflow told", async () => {
    await checkCrashes({
      name: "cancel",
      jobIds: ["job-e"],
      seed: async (world) => {
        await seedJob(world, "job-e", { phase: "TRAINING", instanceId: "gi-e" }, "token-e");
        await seedExecuting(world, "gi-e", "job-e");
        await world.commands.open("gi-e");
      },
      run: async (cp) => {
        const canceled = await cancelJob(cp, "job-e", ADA);
        if (!canceled.ok) throw new Error(canceled.message);
      },
    });
  });

  it("reap: a job ended without its release, and a cancel held up by a close, are finished once", async () => {
    await checkCrashes({
      name: "reap",
      jobIds: ["job-f", "job-g"],
      seed: async (world) => {
        await seedJob(world, "job-f", { phase: "FAILED", instanceId: "gi-f" });
        await seedExecuting(world, "gi-f", "job-f");
        await seedJob(world, "job-g", {
          phase: "CANCELING",
          reason: "DELETE_FAILED",
          instanceId: "gi-g",
        });
        const closing = runInstance(await seedExecuting(world, "gi-g", "job-g"), {
          type: "closeRequested",
          action: "terminate",
        });
        await world.stores.instances.apply({
          before: (await world.stores.instances.get("gi-g")) as Instance,
          after: closing,
          at: NOW,
        });
      },
      // The reaper carries on past an action that throws, and reports it: so does a crash.
      run: async (cp) => {
        const report = await reap(cp, { graceS: 0 });
        const crash = report.failed.find((failure) => failure.error.startsWith("Crash"));
        if (crash) throw new Crash(crash.error);
      },
    });
  });
});
