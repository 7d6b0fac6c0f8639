import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { bindTasks } from "../../../lambdas/adapters/local/bind-tasks.ts";
import { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";
import { DEFAULT_COST_MODEL, policyCoolingLimits } from "../../../lambdas/domain/cooling-policy.ts";
import { type Instance, launchInstance } from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { StateMachineName } from "../../../lambdas/ports.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { releaseInstance } from "../../../lambdas/use-cases/finish-job.ts";
import { recoverAfterRestart } from "../../../lambdas/use-cases/recover.ts";
import { startJobWorkflows, submitJob } from "../../../lambdas/use-cases/submit-job.ts";
import { freshStores, newRecord } from "../stores.ts";
import { stopAfterEach } from "../workflows/harness.ts";

const STATE_MACHINES = join(import.meta.dirname, "../../../statemachines");
const definitions: Record<StateMachineName, string> = {
  "job-lifecycle": join(STATE_MACHINES, "job-lifecycle.asl.json"),
  "job-deadline": join(STATE_MACHINES, "job-deadline.asl.json"),
  "instance-cooling": join(STATE_MACHINES, "instance-cooling.asl.json"),
};
const track = stopAfterEach();

let stores: Awaited<ReturnType<typeof freshStores>>;
let folder: string;
beforeAll(async () => {
  stores = await freshStores();
  folder = await mkdtemp(join(tmpdir(), "gpuctl-starts-"));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

const timeOuts: unknown[] = [];
const never = () => new Promise<never>(() => {});

/**
 * The real ASL files with tasks that do nothing: a job's lifecycle waits for ever to acquire
 * an instance unless `ends` is set, and then ends at once; deadlines and cooling pass at once.
 */
const runner = (options: { ends?: boolean; journal?: string } = {}) =>
  track(
    new LocalWorkflows({
      definitions,
      ...bindTasks(definitions, {
        AcquireInstanceFunction: async () =>
          options.ends ? Promise.reject(new Error("no")) : never(),
        DispatchStepFunction: never,
        RequestReviewFunction: never,
        SilentAgentFunction: async () => ({ restarted: false }),
        ReleaseInstanceFunction: async () => ({}),
        TimeOutJobFunction: async (payload) => {
          timeOuts.push(payload);
          return { timedOut: true };
        },
        ExpireCoolingFunction: async () => ({ closed: false, stopped: false }),
        ExpireStoppedFunction: async () => ({ terminated: false }),
        AbandonCoolingFunction: async () => ({ terminated: false }),
      }),
      waitTimeOverrides: (state) =>
        options.ends ? 0 : state === "Back off before retrying" ? 0 : undefined,
      retryIntervalOverrides: () => 0,
      ...(options.journal ? { journal: options.journal } : {}),
      warn: () => {},
    }),
  );

const controlPlane = (workflows: LocalWorkflows, at: string) =>
  ({
    ...stores.at(at),
    pools: new DynamoPoolStats(stores),
    compute: { instanceTypes: async () => ["local"] },
    workflows,
    settings: {
      region: "local",
      agent: { endpoint: "", secret: "" },
      costModel: DEFAULT_COST_MODEL,
      cooling: policyCoolingLimits(DEFAULT_COST_MODEL),
      spotAllowed: true,
    },
  }) as unknown as ControlPlane;

// Deadlines are waited for on the real clock: a job submitted now has its deadline ahead.
const T0 = new Date().toISOString();
const T1 = new Date(Date.parse(T0) + 42_500).toISOString();
let jobs = 0;

const submitted = async (cp: ControlPlane, key: string) => {
  const spec = { ...newRecord({ id: "spec" }).spec, timeoutS: 3600 };
  const done = await submitJob(cp, {
    spec,
    by: { userId: "ada", email: "ada@example.org" },
    idempotency: { key, requestHash: key },
  });
  if (!done.ok) throw new Error(done.message);
  return done.record;
};

const ended = (workflows: LocalWorkflows) =>
  Promise.all(workflows.executions().map(({ executionId }) => workflows.whenDone(executionId)));

describe("every start of a workflow, as Step Functions takes a name used before", () => {
  it("a submit replayed later finds the job's executions running, the deadline's input unchanged", async () => {
    const workflows = runner();
    const starts: unknown[][] = [];
    const recording = Object.assign(Object.create(workflows), {
      start: (...args: Parameters<LocalWorkflows["start"]>) => {
        starts.push(args);
        return workflows.start(...args);
      },
    });
    const record = await submitted(controlPlane(recording, T0), `key-${++jobs}`);

    const replay = await submitted(controlPlane(recording, T1), `key-${jobs}`);

    expect(replay.job.id).toBe(record.job.id);
    expect(starts).toHaveLength(4);
    expect(starts[3]).toEqual(starts[1]);
    expect(workflows.executions().map(({ machine, name }) => [machine, name])).toEqual([
      ["job-lifecycle", record.job.id],
      ["job-deadline", `${record.job.id}-deadline`],
    ]);
  });

  it("a submit replayed after the job's executions ended starts nothing and succeeds", async () => {
    const workflows = runner({ ends: true });
    const record = await submitted(controlPlane(workflows, T0), `key-${++jobs}`);
    await ended(workflows);

    const replay = await submitted(controlPlane(workflows, T1), `key-${jobs}`);

    expect(replay.job.id).toBe(record.job.id);
    expect(workflows.executions()).toHaveLength(2);
  });

  it("recovery after a restart starts the waiting job's executions under new names", async () => {
    const journal = join(folder, "recovery.jsonl");
    const before = runner({ journal });
    const record = await submitted(controlPlane(before, T0), `key-${++jobs}`);

    const after = runner({ journal });
    await recoverAfterRestart(controlPlane(after, T1));

    const started = after.executions().filter(({ name }) => name.startsWith(record.job.id));
    expect(started.map(({ machine }) => machine)).toEqual(["job-lifecycle", "job-deadline"]);
    const names = new Set(before.executions().map(({ name }) => name));
    for (const { name } of started) expect(names.has(name)).toBe(false);
  });

  it("keeps the journal of executions, every job's id in it, for the control plane's user alone", async () => {
    const journal = join(folder, "private.jsonl");
    // As an earlier version left it.
    await writeFile(journal, "", { mode: 0o644 });
    await chmod(journal, 0o644);
    const workflows = runner({ journal });
    await submitted(controlPlane(workflows, T0), `key-${++jobs}`);

    expect((await stat(journal)).mode & 0o777).toBe(0o600);
    expect(await readFile(journal, "utf8")).not.toBe("");
  });

  it("the deadline times the job out at the instant its submission set", async () => {
    const workflows = runner();
    const createdAt = new Date(Date.now() - 3599_000).toISOString();
    const record = newRecord({ id: `job-deadline-${++jobs}` }, { createdAt });

    await startJobWorkflows({ workflows }, { ...record, spec: { ...record.spec, timeoutS: 3600 } });
    const deadline = workflows.executions().find(({ machine }) => machine === "job-deadline");
    const end = await workflows.whenDone(deadline?.executionId ?? "");

    expect(end).toMatchObject({ status: "SUCCEEDED", output: { result: { timedOut: true } } });
    expect(timeOuts).toContainEqual({ jobId: record.job.id });
  });

  it("a release run again for one job version starts no second attempt and succeeds", async () => {
    const workflows = runner({ ends: true });
    const id = `job-retry-${++jobs}`;
    const job: Job = { ...newRecord({ id }).job, phase: "RETRY_BACKOFF", attempt: 1 };
    await stores.jobs.submit({ record: newRecord({ id }, { job }) });
    const cp = controlPlane(workflows, T0);

    await releaseInstance(cp, id);
    await ended(workflows);
    await releaseInstance(cp, id);

    expect(workflows.executions().map(({ name }) => name)).toEqual([`${id}-v${job.version}`]);
  });

  it("a release run again after its first run recorded the cooling but died before its timer started starts the timer", async () => {
    const workflows = runner({ ends: true });
    const id = `job-cool-${++jobs}`;
    const instanceId = `i-cool-${jobs}`;
    const pool = { instanceType: "local", envHash: "env", region: "local", owner: "ada" };
    // As the first run left it: cooling, its plan recorded, and no timer.
    const coolingUntil = new Date(Date.parse(T0) + 60_000).toISOString();
    const instance: Instance = {
      ...launchInstance({ id: instanceId, pool, spot: false, jobId: id }),
      status: "COOLING",
      coolingEpoch: 1,
      coolingUntil,
      stoppedUntil: new Date(Date.parse(coolingUntil) + 3_600_000).toISOString(),
    };
    await stores.instances.create(instance, T0);
    const job: Job = { ...newRecord({ id }).job, phase: "COMPLETED", instanceId };
    await stores.jobs.submit({ record: newRecord({ id }, { job }) });
    const starts: unknown[][] = [];
    const recording = Object.assign(Object.create(workflows), {
      start: (...args: Parameters<LocalWorkflows["start"]>) => {
        starts.push(args);
        return workflows.start(...args);
      },
    });

    await releaseInstance({ ...controlPlane(recording, T0) }, id);
    await releaseInstance({ ...controlPlane(recording, T0) }, id);

    expect((await stores.instances.get(instanceId))?.status).toBe("COOLING");
    const timers = starts.filter(([machine]) => machine === "instance-cooling");
    expect(timers).toHaveLength(2);
    for (const [, , input] of timers)
      expect(input).toEqual({ instanceId, coolingEpoch: 1, warmS: 60, stoppedS: 3600 });
  });
});
