/**
 * One control plane made of the real use cases, the domain and the real in-process
 * adapters (command mailboxes, event bus, metrics), on the memory stores and a compute that
 * fails on demand; the job-lifecycle machine is stepped by `LifecycleRunner`. Agents are
 * played by the world itself: each answers the commands in its mailbox through the same use
 * cases the agent API calls, unless it went silent or its instance went away. Every action a
 * test draws is one of `act`'s; a crash armed with `crashAfter` kills the next invocation
 * right after one of its side effects, and the invocation is retried as its caller would
 * (the state's Retry, the agent resending its report, EventBridge redelivering).
 */
import type { Command } from "../../agent/protocol.ts";
import { MemoryCommandQueue } from "../../lambdas/adapters/local/memory-command-queue.ts";
import { MemoryEventBus } from "../../lambdas/adapters/local/memory-event-bus.ts";
import { MemoryMetrics } from "../../lambdas/adapters/local/memory-metrics.ts";
import { DEFAULT_COST_MODEL, policyCoolingLimits } from "../../lambdas/domain/cooling-policy.ts";
import { submitJob } from "../../lambdas/domain/job.ts";
import type { JobSpec } from "../../lambdas/domain/job-spec.ts";
import { DEFAULT_RETRY_POLICY } from "../../lambdas/domain/retry-policy.ts";
import { ExecutionAlreadyExists, type Workflows } from "../../lambdas/ports.ts";
import { type Assignment, assignmentOfCredential } from "../../lambdas/use-cases/agent-identity.ts";
import { reportStepFailure, reportStepSuccess } from "../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../lambdas/use-cases/control-plane.ts";
import { lifecycleName } from "../../lambdas/use-cases/execution-names.ts";
import { REAPING, reap } from "../../lambdas/use-cases/reap.ts";
import {
  instanceStateChanged,
  spotInterruptionWarned,
} from "../../lambdas/use-cases/reconcile-instance.ts";
import { type ComputeFault, FaultyCompute } from "../fakes/faulty-compute.ts";
import { memoryStores } from "../fakes/memory-stores.ts";
import { LAMBDA_CRASH, LifecycleRunner } from "./lifecycle-runner.ts";

export interface JobDraw {
  spot: boolean;
  backoffLimit: number;
  /** One instance type, or two to fall back across. */
  types: 1 | 2;
}

export type Action =
  | { kind: "step"; pick: number }
  | { kind: "report"; pick: number; ok: boolean; exitCode: number; envCached: boolean }
  | { kind: "redeliver"; pick: number }
  | { kind: "computeFault"; fault: ComputeFault }
  | { kind: "vanish"; pick: number; as: "stopped" | "terminated"; eventDelivered: boolean }
  | { kind: "spotNotice"; pick: number }
  | { kind: "silence"; pick: number }
  | { kind: "crash"; after: number }
  | { kind: "time"; seconds: number }
  | { kind: "reap" };

/** A command the agent reports on; `abort` and `preempt` are only obeyed. */
type TaskCommand = Extract<Command, { taskToken: string }>;
interface Report {
  assignment: Assignment;
  taskToken: string;
  ok: boolean;
  output: Record<string, unknown>;
}

const SECRET = "model-secret";
const START = Date.parse("2026-03-01T00:00:00.000Z");

/** Port methods that change something: a crash armed strikes right after one of them. */
const SIDE_EFFECTS: Record<string, readonly string[]> = {
  jobs: ["apply", "setTaskToken", "recordTimeline"],
  instances: ["create", "apply"],
  compute: ["launch", "start", "stop", "terminate"],
  commands: ["open", "push", "close"],
  events: ["publish"],
  workflows: ["start", "sendTaskSuccess", "sendTaskFailure"],
};

const spec = (name: string, draw: JobDraw): JobSpec => ({
  name,
  kind: "training",
  instance: {
    types: draw.types === 2 ? ["g5.xlarge", "g6.xlarge"] : ["g5.xlarge"],
    spot: draw.spot,
    waitRequestS: 600,
    onDemandFallback: true,
  },
  workers: 1,
  run: "python train.py",
  inputs: [],
  outputs: [],
  backoffLimit: draw.backoffLimit,
  review: false,
  env: {},
  ...(draw.spot ? { checkpointDir: "checkpoints" } : {}),
});

const pickOf = <T>(items: readonly T[], pick: number): T | undefined =>
  items.length === 0 ? undefined : items[pick % items.length];

export class FaultyWorld {
  #now = START;
  readonly clock = { now: () => new Date(this.#now).toISOString() };
  readonly stores = memoryStores();
  // A restarted agent starts afresh: the commands its hung process held are gone with it.
  readonly compute = new FaultyCompute(this.clock, (instanceId) => this.#inbox.delete(instanceId));
  readonly runner = new LifecycleRunner();
  readonly commands = new MemoryCommandQueue();
  /** Every command each instance's agent took, answered or not. */
  readonly #inbox = new Map<string, TaskCommand[]>();
  readonly #delivered: Report[] = [];
  #crashIn = 0;
  readonly cp: ControlPlane;

  constructor() {
    const workflows: Workflows = {
      start: async (machine, name, input) => {
        if (machine !== "job-lifecycle") return { executionId: name };
        if (this.runner.started(name)) throw new ExecutionAlreadyExists(name);
        this.runner.start(name, input);
        return { executionId: name };
      },
      sendTaskSuccess: async (token, output) => this.runner.report(token, { ok: true, output }),
      sendTaskFailure: async (token, error, cause) =>
        this.runner.report(token, { ok: false, error, cause }),
      sendTaskHeartbeat: async () => {},
    };
    const ports = {
      ...this.stores,
      compute: this.compute,
      commands: this.commands,
      events: new MemoryEventBus(),
      workflows,
    };
    const crashing = Object.fromEntries(
      Object.entries(ports).map(([name, port]) => [name, this.#crashable(name, port)]),
    );
    this.cp = {
      ...(crashing as unknown as Pick<ControlPlane, keyof typeof ports>),
      coolingTimers: { stop: async () => {} },
      // The model's agents upload nothing: no job has a checkpoint to resume from.
      artifacts: {
        listOutputs: async () => ({ items: [] }),
      } as unknown as ControlPlane["artifacts"],
      users: {} as ControlPlane["users"],
      passwords: {} as ControlPlane["passwords"],
      metrics: new MemoryMetrics(),
      clock: this.clock,
      settings: {
        region: "local",
        agent: { endpoint: "http://127.0.0.1:1", secret: SECRET },
        costModel: DEFAULT_COST_MODEL,
        cooling: policyCoolingLimits(DEFAULT_COST_MODEL),
        spotAllowed: true,
      },
    };
  }

  /** The port, its side effects each counted down towards an armed crash. */
  #crashable<T extends object>(name: string, port: T): T {
    const effects = SIDE_EFFECTS[name] ?? [];
    return new Proxy(port, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        if (!effects.includes(String(key))) return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          if (this.#crashIn > 0 && --this.#crashIn === 0)
            throw Object.assign(new Error("the function crashed"), { name: LAMBDA_CRASH });
          return result;
        };
      },
    });
  }

  async submit(draws: readonly JobDraw[]): Promise<void> {
    for (const [index, draw] of draws.entries()) {
      const id = `job-${index}`;
      const job = submitJob({
        id,
        kind: "training",
        spot: draw.spot,
        retryPolicy: { ...DEFAULT_RETRY_POLICY, backoffLimit: draw.backoffLimit },
      });
      const at = this.clock.now();
      await this.stores.jobs.submit({
        record: {
          job,
          owner: "ada",
          name: id,
          createdAt: at,
          updatedAt: at,
          timeline: {},
          spec: spec(id, draw),
        },
      });
      this.runner.start(lifecycleName(id), { jobId: id, review: false });
    }
  }

  /** Runs an invocation, again while it crashes, as every caller of a Lambda retries. */
  async #invoke(run: () => Promise<unknown>): Promise<void> {
    for (;;) {
      try {
        await run();
        return;
      } catch (error) {
        if ((error as Error).name !== LAMBDA_CRASH) throw error;
      }
    }
  }

  #agentUp(instanceId: string): boolean {
    return !this.compute.hung.has(instanceId) && this.compute.running().includes(instanceId);
  }

  /** Each live agent takes what its mailbox holds. */
  async #poll(): Promise<void> {
    for (const instanceId of this.compute.running()) {
      for (;;) {
        const command = await this.commands.next(instanceId, 0);
        if (!command) break;
        if ("taskToken" in command)
          this.#inbox.set(instanceId, [...(this.#inbox.get(instanceId) ?? []), command]);
      }
    }
  }

  #pending(): Array<{ instanceId: string; command: TaskCommand }> {
    return [...this.#inbox].flatMap(([instanceId, commands]) =>
      this.#agentUp(instanceId) ? commands.map((command) => ({ instanceId, command })) : [],
    );
  }

  async #deliver(report: Report): Promise<void> {
    const { assignment, taskToken, output } = report;
    await this.#invoke(() =>
      report.ok
        ? reportStepSuccess(this.cp, assignment, taskToken, output)
        : reportStepFailure(this.cp, assignment, taskToken, {
            error: "StepFailed",
            cause: "model",
          }),
    );
  }

  /** The agent on `instanceId` answers its oldest command. */
  async #answer(
    instanceId: string,
    outcome: { ok: boolean; exitCode: number; envCached: boolean },
  ) {
    const command = this.#inbox.get(instanceId)?.shift();
    if (!command) return;
    const assignment = assignmentOfCredential(SECRET, command.job.credential);
    if (!assignment) throw new Error("a command's credential does not open");
    const output =
      command.type === "prepare"
        ? { envCached: outcome.envCached }
        : command.type === "run"
          ? { exitCode: outcome.exitCode }
          : {};
    const ok = outcome.ok || command.type === "run";
    const report = { assignment, taskToken: command.taskToken, ok, output };
    this.#delivered.push(report);
    await this.#deliver(report);
  }

  #instanceOfJob(pick: number): string | undefined {
    const held = [...this.stores.jobs.records.values()].flatMap(({ job }) =>
      job.instanceId && this.compute.running().includes(job.instanceId) ? [job.instanceId] : [],
    );
    return pickOf(held, pick);
  }

  /** Whether nothing is left to answer a task of the job: no agent, or a silent one. */
  #unreachable = (jobId: string): boolean => {
    const instanceId = this.stores.jobs.records.get(jobId)?.job.instanceId;
    return !instanceId || !this.#agentUp(instanceId);
  };

  async act(action: Action): Promise<void> {
    await this.#poll();
    switch (action.kind) {
      case "step": {
        const live = this.runner.executions.filter((e) => e.at !== "ended");
        const execution = pickOf(live, action.pick);
        if (execution) await this.runner.step(this.cp, execution);
        return;
      }
      case "report": {
        const pending = pickOf(this.#pending(), action.pick);
        if (pending) await this.#answer(pending.instanceId, action);
        return;
      }
      case "redeliver": {
        const report = pickOf(this.#delivered, action.pick);
        if (report) await this.#deliver(report);
        return;
      }
      case "computeFault":
        return this.compute.inject(action.fault);
      case "vanish": {
        const instanceId = this.#instanceOfJob(action.pick);
        const vanished = instanceId && this.compute.vanish(instanceId, action.as);
        if (vanished && action.eventDelivered)
          await this.#invoke(() => instanceStateChanged(this.cp, vanished));
        return;
      }
      case "spotNotice": {
        const instanceId = this.#instanceOfJob(action.pick);
        const providerId = instanceId && this.compute.instances.get(instanceId)?.providerId;
        if (!instanceId || !providerId || !this.compute.instances.get(instanceId)?.spot) return;
        await this.#invoke(() => spotInterruptionWarned(this.cp, providerId));
        // The notice's two minutes pass: the agent's checkpoint is up, and the instance goes.
        this.compute.vanish(instanceId, "terminated");
        await this.#invoke(() =>
          instanceStateChanged(this.cp, { providerId, state: "terminated" }),
        );
        return;
      }
      case "silence": {
        const instanceId = this.#instanceOfJob(action.pick);
        if (instanceId) this.compute.hung.add(instanceId);
        return;
      }
      case "crash":
        this.#crashIn = action.after;
        return;
      case "time":
        this.#now += action.seconds * 1000;
        this.runner.timeOut(this.#unreachable);
        return;
      case "reap":
        await this.#invoke(() => reap(this.cp));
        return;
    }
  }

  /**
   * The faults stop: every execution runs on, every live agent answers with success, and
   * time passes whenever nothing else moves (so tasks left with no agent time out). Ends
   * when nothing moves any more, or after `maxRounds`.
   */
  async settle(maxRounds = 400): Promise<void> {
    this.compute.clear();
    this.#crashIn = 0;
    for (let round = 0; round < maxRounds; round++) {
      await this.#poll();
      let moved = false;
      for (const execution of this.runner.executions)
        moved = (await this.runner.step(this.cp, execution)) || moved;
      await this.#poll();
      for (const { instanceId } of this.#pending()) {
        await this.#answer(instanceId, { ok: true, exitCode: 0, envCached: false });
        moved = true;
      }
      if (!moved) {
        if (!this.runner.executions.some((e) => e.at !== "ended")) return;
        this.#now += 1000 * 1000;
        this.runner.timeOut(this.#unreachable);
      }
    }
  }

  /** Long after every plan: the reaper runs once per plan stage (cooling, stopped, closing). */
  async reapAfterPlans(): Promise<void> {
    for (let run = 0; run < 3; run++) {
      this.#now += 8 * 86_400 * 1000;
      await reap(this.cp);
    }
  }

  get graceS(): number {
    return REAPING.graceS;
  }
}
