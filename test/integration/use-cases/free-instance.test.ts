/**
 * What a job's release leaves of its instance, on DynamoDB Local with the real cooling ASL
 * and its real tasks: never an instance without an end time and a timer to carry it out.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { bindTasks } from "../../../lambdas/adapters/local/bind-tasks.ts";
import { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import {
  DEFAULT_COST_MODEL,
  MAX_STOPPED_S,
  policyCoolingLimits,
} from "../../../lambdas/domain/cooling-policy.ts";
import {
  type Instance,
  type InstanceEvent,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import { PoolHistoryContended } from "../../../lambdas/ports.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import {
  abandonCooling,
  expireCooling,
  expireStopped,
  releaseInstance,
} from "../../../lambdas/use-cases/finish-job.ts";
import { WORKFLOW_ERRORS } from "../../../lambdas/use-cases/workflow-errors.ts";
import { freshStores, newRecord } from "../stores.ts";
import { stopAfterEach } from "../workflows/harness.ts";

const AT = "2026-01-01T00:00:00.000Z";
const COOLING = join(import.meta.dirname, "../../../statemachines/instance-cooling.asl.json");
const track = stopAfterEach();

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/** A control plane whose compute records what it was asked, its cooling timers real. */
const controlPlane = () => {
  const asked: string[] = [];
  const compute = {
    stop: async (id: string) => void asked.push(`stop ${id}`),
    terminate: async (id: string) => void asked.push(`terminate ${id}`),
  };
  const cp = {
    ...stores.at(AT),
    pools: new DynamoPoolStats(stores),
    compute,
    commands: new MemoryCommandQueue(),
    settings: {
      costModel: DEFAULT_COST_MODEL,
      cooling: policyCoolingLimits(DEFAULT_COST_MODEL),
    },
  } as unknown as ControlPlane;
  const definitions = { "instance-cooling": COOLING };
  cp.workflows = track(
    new LocalWorkflows({
      definitions,
      ...bindTasks(definitions, {
        // biome-ignore lint/suspicious/noExplicitAny: the ASL's payloads, as the tasks take them
        ExpireCoolingFunction: (payload: any) => expireCooling(cp, payload),
        // biome-ignore lint/suspicious/noExplicitAny: as above
        ExpireStoppedFunction: (payload: any) => expireStopped(cp, payload),
        // biome-ignore lint/suspicious/noExplicitAny: as above
        AbandonCoolingFunction: (payload: any) => abandonCooling(cp, payload),
      }),
      warn: () => {},
    }),
  );
  return { cp, workflows: cp.workflows as LocalWorkflows, asked };
};

let n = 0;
/** A job in `phase` and its instance, brought to where its job left it by `events`. */
const jobOn = async (
  fields: { kind: "training" | "inference"; phase: Job["phase"] },
  events: InstanceEvent[],
) => {
  const id = `free-${++n}`;
  const pool = { instanceType: "local", envHash: `env-${n}`, region: "local", owner: "ada" };
  const instance = events.reduce(
    (current: Instance, event) => {
      const next = transitionInstance(current, event);
      if (!next.ok) throw new Error(next.refusal.message);
      return next.instance;
    },
    launchInstance({ id: `gi-${id}`, pool, spot: false, jobId: id }),
  );
  await stores.instances.create(instance, AT);
  const base = newRecord({ id, kind: fields.kind });
  const job: Job = { ...base.job, phase: fields.phase, instanceId: instance.id };
  await stores.jobs.submit({
    record: { ...base, job, spec: { ...base.spec, coolingPeriodS: 600 } },
  });
  return { jobId: id, instanceId: instance.id };
};

const RUNNING: InstanceEvent[] = [{ type: "agentRegistered" }, { type: "jobRunning" }];

/** Polls the instance's record until `done` holds. */
const instanceWhen = async (id: string, done: (instance?: Instance) => boolean) => {
  for (;;) {
    const instance = await stores.instances.get(id);
    if (done(instance)) return instance;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("freeing a job's instance leaves none without an end", () => {
  it("stops a completed deployment's instance at once, its termination planned and timed", async () => {
    const { cp, workflows, asked } = controlPlane();
    const { jobId, instanceId } = await jobOn({ kind: "inference", phase: "COMPLETED" }, RUNNING);

    await releaseInstance(cp, jobId);

    const stopped = await instanceWhen(instanceId, (view) => view?.status === "CLOSED");
    expect(stopped).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
      coolingUntil: AT,
      stoppedUntil: new Date(Date.parse(AT) + MAX_STOPPED_S * 1000).toISOString(),
    });
    expect(asked).toEqual([`stop ${instanceId}`]);
    const [timer] = workflows.executions();
    expect(workflows.statesEntered(timer?.executionId ?? "").at(-1)).toBe(
      "Keep the instance stopped",
    );
  });

  it("keeps a finished training job's instance warm for its plan, its timer waiting", async () => {
    const { cp, workflows, asked } = controlPlane();
    const { jobId, instanceId } = await jobOn({ kind: "training", phase: "COMPLETED" }, RUNNING);

    await releaseInstance(cp, jobId);

    expect(await stores.instances.get(instanceId)).toMatchObject({
      status: "COOLING",
      coolingUntil: new Date(Date.parse(AT) + 600_000).toISOString(),
    });
    expect(asked).toEqual([]);
    expect(workflows.executions()).toHaveLength(1);
  });

  it("terminates an instance whose agent never answered, rather than keep it stopped", async () => {
    const { cp, asked } = controlPlane();
    const { jobId, instanceId } = await jobOn({ kind: "training", phase: "CANCELING" }, []);

    await releaseInstance(cp, jobId);

    expect(await stores.instances.get(instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(asked).toEqual([`terminate ${instanceId}`]);
  });

  it("retries a canceled job's release that a contended pool history kept out as throttled, not as a failed close", async () => {
    const { cp } = controlPlane();
    cp.pools = {
      update: async () => {
        throw new PoolHistoryContended("idle:contended", 50);
      },
    };
    const { jobId } = await jobOn({ kind: "training", phase: "CANCELING" }, RUNNING);

    await expect(releaseInstance(cp, jobId)).rejects.toMatchObject({
      name: WORKFLOW_ERRORS.throttled,
    });
    expect((await stores.jobs.get(jobId))?.job).toMatchObject({ phase: "CANCELING" });
    expect((await stores.jobs.get(jobId))?.job.reason).not.toBe("DELETE_FAILED");
  });
});
