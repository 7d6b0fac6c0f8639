import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instance, launchInstance } from "../../../lambdas/domain/instance.ts";
import { reachableInstances } from "../../../lambdas/domain/reachable.ts";
import {
  type ComputeState,
  type ComputeView,
  type JobView,
  jobsWorkedFor,
  type ReapAction,
  reapingActions,
  reconcile,
} from "../../../lambdas/domain/reaping.ts";
import { runInstance } from "../../fixtures/instances.ts";

const NOW = "2026-01-01T12:00:00.000Z";
const RULES = { graceS: 600 };
const TRAINING: JobView = { phase: "TRAINING", updatedAt: NOW };

/** The reaper's decisions, each job an instance works for live (TRAINING) unless `jobs` says otherwise. */
const decide = (
  records: readonly Instance[],
  compute: readonly ComputeView[],
  jobs: Record<string, JobView> = {},
) =>
  reapingActions(
    {
      records,
      compute,
      jobs: new Map(jobsWorkedFor(records).map((id) => [id, id in jobs ? jobs[id] : TRAINING])),
    },
    NOW,
    RULES,
  );
const at = (offsetS: number) => new Date(Date.parse(NOW) + offsetS * 1000).toISOString();

const COMPUTE_STATES: ComputeState[] = [
  "pending",
  "running",
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
];
const LIVE_STATES: ComputeState[] = ["pending", "running", "stopping", "stopped"];

const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:env",
  region: "eu-west-1",
  owner: "ada",
};

const launched = (id: string) =>
  launchInstance({ id, providerId: `i-${id}`, pool, spot: false, jobId: "job-1" });
const cooling = (id: string, coolingUntil: string, stoppedUntil = coolingUntil) =>
  runInstance(
    launched(id),
    { type: "agentRegistered" },
    { type: "jobRunning" },
    { type: "released", coolingUntil, stoppedUntil },
  );
const view = (instanceId: string, state: ComputeState, launchedAt = at(-3600)): ComputeView => ({
  instanceId,
  state,
  launchedAt,
});

/** Every reachable instance state, plus one stopped mid-job (no cooling plan). */
const SHAPES = [
  ...reachableInstances(),
  runInstance(launchInstance({ id: "x", pool, spot: false, jobId: "j" }), {
    type: "stoppedOutside",
  }),
];

const IDS = ["gi-1", "gi-2", "gi-3", "gi-4", "gi-5", "gi-6"];

const record = (id: string) =>
  fc
    .record({
      shape: fc.constantFrom(...SHAPES),
      launched: fc.boolean(),
      coolingOffsetS: fc.integer({ min: -7200, max: 7200 }),
      stoppedForS: fc.nat({ max: 7200 }),
    })
    .map(({ shape, launched, coolingOffsetS, stoppedForS }): Instance => {
      const { providerId: _, coolingUntil, stoppedUntil, ...rest } = shape;
      const schedule =
        coolingUntil && stoppedUntil
          ? { coolingUntil: at(coolingOffsetS), stoppedUntil: at(coolingOffsetS + stoppedForS) }
          : {};
      return {
        ...rest,
        id,
        ...(launched ? { providerId: `i-${id}` } : {}),
        ...schedule,
      } as Instance;
    });

const computeView = (id: string) =>
  fc
    .record({
      state: fc.constantFrom(...COMPUTE_STATES),
      launchedOffsetS: fc.integer({ min: -7200, max: 0 }),
    })
    .map(({ state, launchedOffsetS }) => view(id, state, at(launchedOffsetS)));

/** Records and the compute's list over a few ids: each id may have a record, an instance, both. */
const world = fc
  .tuple(...IDS.map((id) => fc.tuple(fc.option(record(id)), fc.option(computeView(id)))))
  .map((pairs) => ({
    records: pairs.flatMap(([r]) => (r ? [r] : [])),
    compute: pairs.flatMap(([, v]) => (v ? [v] : [])),
  }));

const targetOf = (action: ReapAction) =>
  action.type === "terminateOrphan" ? action.instanceId : action.instance.id;

const inUse = (instance: Instance) =>
  instance.status === "LAUNCHING" ||
  instance.status === "EXECUTING" ||
  instance.status === "COOLING";

const withinPlan = (instance: Instance) =>
  instance.status !== "COOLING" ||
  (instance.coolingUntil !== undefined && Date.parse(instance.coolingUntil) >= Date.parse(NOW));

describe("the reaper's decisions", () => {
  it("never touches an instance in use, within its plan, that the compute runs", () => {
    fc.assert(
      fc.property(world, ({ records, compute }) => {
        const actions = decide(records, compute);
        for (const instance of records) {
          const state = compute.find((v) => v.instanceId === instance.id)?.state;
          if (
            inUse(instance) &&
            withinPlan(instance) &&
            (state === "pending" || state === "running")
          )
            expect(actions.filter((action) => targetOf(action) === instance.id)).toEqual([]);
        }
      }),
    );
  });

  it("gives every instance the compute runs with no live record, past its grace, an action", () => {
    fc.assert(
      fc.property(world, ({ records, compute }) => {
        const actions = decide(records, compute);
        for (const { instanceId, state, launchedAt } of compute) {
          const owner = records.find((instance) => instance.id === instanceId);
          const dead = !owner || (owner.status === "CLOSED" && owner.substatus === "TERMINATED");
          const old = Date.parse(launchedAt) + RULES.graceS * 1000 < Date.parse(NOW);
          if (dead && LIVE_STATES.includes(state) && old)
            expect(actions.map(targetOf)).toContain(instanceId);
        }
      }),
    );
  });

  it("leaves a young instance with no record alone: its launch may not be recorded yet", () => {
    fc.assert(
      fc.property(world, ({ records, compute }) => {
        const young = compute.filter(
          (v) =>
            Date.parse(v.launchedAt) + RULES.graceS * 1000 >= Date.parse(NOW) &&
            !records.some((instance) => instance.id === v.instanceId),
        );
        const actions = decide(records, compute);
        for (const { instanceId } of young) expect(actions.map(targetOf)).not.toContain(instanceId);
      }),
    );
  });

  it("records as vanished every launched instance in use that the compute no longer has", () => {
    fc.assert(
      fc.property(world, ({ records, compute }) => {
        const actions = decide(records, compute);
        for (const instance of records) {
          const state = compute.find((v) => v.instanceId === instance.id)?.state;
          const gone = state === undefined || state === "terminated" || state === "shutting-down";
          if (inUse(instance) && gone && instance.providerId)
            expect(actions).toContainEqual({
              type: "reconcile",
              instance,
              reconciliation: { type: "vanished", as: "terminated" },
            });
        }
      }),
    );
  });

  it("decides at most one action per instance", () => {
    fc.assert(
      fc.property(world, ({ records, compute }) => {
        const targets = decide(records, compute).map(targetOf);
        expect(new Set(targets).size).toBe(targets.length);
      }),
    );
  });

  it("expires a cooling instance once past its plan, as its timer would have: racing it is harmless", () => {
    const overdue = cooling("gi-late", at(-1), at(3000));
    const due = cooling("gi-due", at(1), at(3000));
    const actions = decide([overdue, due], [view("gi-late", "running"), view("gi-due", "running")]);
    expect(actions).toEqual([{ type: "expireCooling", instance: overdue }]);
  });

  it("terminates a stopped instance past its plan, or one no plan will ever end", () => {
    const stop = [
      { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
      { type: "stopped" },
    ] as const;
    const past = runInstance(cooling("gi-past", at(-7200), at(-1)), ...stop);
    const planned = runInstance(cooling("gi-planned", at(-7200), at(60)), ...stop);
    const unplanned = runInstance(launched("gi-unplanned"), { type: "stoppedOutside" });
    const actions = decide(
      [past, planned, unplanned],
      ["gi-past", "gi-planned", "gi-unplanned"].map((id) => view(id, "stopped")),
    );
    expect(actions).toEqual([
      { type: "expireStopped", instance: past },
      { type: "expireStopped", instance: unplanned },
    ]);
  });

  it("terminates an instance working for a job that is gone, or ended or canceled past the grace its release may take", () => {
    const working = (id: string, jobId: string) =>
      runInstance(launchInstance({ id, providerId: `i-${id}`, pool, spot: false, jobId }), {
        type: "agentRegistered",
      });
    const ids = ["gone", "ended", "canceled", "just-ended", "running"];
    const records = ids.map((id) => working(`gi-${id}`, id));
    const actions = decide(
      records,
      ids.map((id) => view(`gi-${id}`, "running")),
      {
        gone: undefined,
        ended: { phase: "COMPLETED", updatedAt: at(-601) },
        canceled: { phase: "CANCELING", updatedAt: at(-601) },
        "just-ended": { phase: "FAILED", updatedAt: at(-599) },
        running: { phase: "TRAINING", updatedAt: at(-86_400) },
      },
    );
    expect(actions).toEqual(
      records.slice(0, 3).map((instance) => ({ type: "terminateJobless", instance })),
    );
  });

  it("terminates an instance its live job moved off without freeing, past the grace its release may take", () => {
    const working = (id: string, jobId: string) =>
      runInstance(launchInstance({ id, providerId: `i-${id}`, pool, spot: false, jobId }), {
        type: "agentRegistered",
      });
    const ids = ["moved", "just-moved", "holds", "former"];
    const records = ids.map((id) => working(`gi-${id}`, id));
    const actions = decide(
      records,
      ids.map((id) => view(`gi-${id}`, "running")),
      {
        moved: { phase: "TRAINING", updatedAt: at(-601), holds: ["gi-other"] },
        "just-moved": { phase: "REQUESTING_SERVER", updatedAt: at(-599), holds: [] },
        holds: { phase: "TRAINING", updatedAt: at(-86_400), holds: ["gi-holds"] },
        former: { phase: "REQUESTING_SERVER", updatedAt: at(-86_400), holds: ["gi-former"] },
      },
    );
    expect(actions).toEqual([{ type: "terminateJobless", instance: records[0] }]);
  });

  it("does not take a record with no EC2 id for one the compute lost", () => {
    const unlaunched = launchInstance({ id: "gi-new", pool, spot: false, jobId: "j" });
    expect(decide([unlaunched], [])).toEqual([]);
  });
});

describe("reconciling a record with the compute's state", () => {
  const closing = (action: "stop" | "terminate") =>
    runInstance(cooling("gi-c", at(0)), { type: "closeRequested", action });
  const stopped = runInstance(closing("stop"), { type: "stopped" });
  const terminated = runInstance(closing("terminate"), { type: "terminated" });
  const executing = runInstance(
    launched("gi-e"),
    { type: "agentRegistered" },
    { type: "jobRunning" },
  );
  const starting = runInstance(stopped, { type: "started", jobId: "job-2" });

  it.each([
    ["executing", executing, "terminated", { type: "vanished", as: "terminated" }],
    ["executing", executing, undefined, { type: "vanished", as: "terminated" }],
    ["executing", executing, "stopped", { type: "vanished", as: "stopped" }],
    ["executing", executing, "running", undefined],
    ["cooling", cooling("gi-c", at(0)), "stopping", { type: "vanished", as: "stopped" }],
    // EC2 reports the stop of an instance being started again after the record says LAUNCHING.
    ["being started", starting, "stopped", undefined],
    ["being started", starting, "shutting-down", { type: "vanished", as: "terminated" }],
    ["stopping", closing("stop"), "stopped", { type: "recordClosed", as: "stopped" }],
    ["stopping", closing("stop"), "stopping", undefined],
    ["stopping", closing("stop"), "running", { type: "repeatClose", action: "stop" }],
    ["stopping", closing("stop"), "terminated", { type: "recordClosed", as: "terminated" }],
    ["terminating", closing("terminate"), "running", { type: "repeatClose", action: "terminate" }],
    ["terminating", closing("terminate"), undefined, { type: "recordClosed", as: "terminated" }],
    ["stopped", stopped, "terminated", { type: "recordClosed", as: "terminated" }],
    ["stopped", stopped, "running", undefined],
    ["terminated", terminated, "running", { type: "terminate" }],
    ["terminated", terminated, "terminated", undefined],
  ] as const)("a record %s, the compute %s", (_, instance, state, expected) => {
    expect(reconcile(instance, state)).toEqual(expected);
  });
  it("takes a stop seen after a starting record last changed as news: its agent died before registering", () => {
    const since = { ...starting, updatedAt: at(60) };
    expect(reconcile(since, "stopped", at(61))).toEqual({ type: "vanished", as: "stopped" });
    expect(reconcile(since, "stopped", at(59))).toBeUndefined();
    expect(reconcile(since, "stopped")).toBeUndefined();
    const fresh = { ...launched("gi-f"), updatedAt: at(60) };
    expect(reconcile(fresh, "stopped", at(61))).toEqual({ type: "vanished", as: "stopped" });
  });
});
