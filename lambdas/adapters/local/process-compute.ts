/**
 * The local `Compute`: an "instance" is a folder, `<stateDir>/instances/<instanceId>/`, with
 * an agent process running on it: the agent's bundle (`npm run build:agent`), what an EC2
 * instance runs, so the tests run what ships. Stop ends the process and keeps the
 * folder (and the env cache on it); terminate deletes the folder. `instance.json` in each
 * folder keeps what a restarted control plane needs to know.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { inheritedEnv } from "../../../agent/environment.ts";
import { killLeftoverGroups } from "../../../agent/groups.ts";
import { AGENT_TOKEN_FILE_ENV } from "../../../agent/protocol.ts";
import { AGENT_BUNDLE } from "../../../scripts/build-agent.ts";
import type { ComputeState } from "../../domain/reaping.ts";
import {
  type Compute,
  ComputeError,
  type ComputeInstance,
  type LaunchRequest,
} from "../../ports.ts";
import { freePort } from "./dynamodb-local.ts";

export interface ProcessComputeOptions {
  /** Instances live in `<stateDir>/instances/<instanceId>/`. */
  stateDir: string;
  /** The agent's entry point; default the bundle scripts/build-agent.ts writes. */
  agentEntry?: string;
  /** The Node.js that runs the agent; default the one running this process. */
  nodePath?: string;
  /** Whether this machine has GPUs; default: `nvidia-smi -L` succeeds. */
  gpuProbe?: () => Promise<boolean>;
  /** Extra environment for every agent (GPUCTL_HEARTBEAT_S, ...). */
  agentEnv?: Record<string, string>;
  /** The host deployments are reached at; default 127.0.0.1. */
  advertiseHost?: string;
  /**
   * What happened to an instance without the control plane asking, as EC2's state-change
   * events say it: an agent process that exited on its own is `stopped`, an instance that
   * vanished is `terminated`.
   */
  onStateChange?: (change: { instanceId: string; providerId: string; state: ComputeState }) => void;
  /** A spot interruption notice for an instance, as EC2's warning event brings it. */
  onSpotNotice?: (providerId: string) => void;
}

export type LocalInstanceState = "running" | "stopped";

/** What `instance.json` holds. Never the agent's token. */
export interface LocalInstance {
  instanceType: string;
  spot: boolean;
  region: string;
  /** The agent's pid while it runs. */
  pid: number | null;
  /** When that process started (see startTimeOf): tells the agent from a process reusing its pid. */
  startedAt: number | null;
  state: LocalInstanceState;
  launchedAt: string;
}

const CPU_TYPE = "local";
const GPU_TYPE = "local-gpu";
const STOP_GRACE_MS = 10_000;
const SETPRIV = "/usr/bin/setpriv";
const TOKEN_FILE = "agent.token";
/** Whether agents run as root, and so run their jobs as users of their own (agent/job-users.ts). */
const asRoot = process.getuid?.() === 0;

/** An instance's id as this compute knows it, as EC2 has ids of its own. */
const providerIdOf = (instanceId: string) => `local-${instanceId}`;

/** `nvidia-smi -L` lists at least one GPU. */
export const nvidiaSmiFindsGpus = (): Promise<boolean> =>
  new Promise((resolveProbe) => {
    execFile("nvidia-smi", ["-L"], { timeout: 10_000 }, (error, stdout) =>
      resolveProbe(!error && /\bGPU\b/.test(stdout)),
    );
  });

const useSetpriv = process.platform === "linux" && existsSync(SETPRIV);

/** Whether `pid` runs (a zombie, dead but not yet reaped, does not). */
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
};

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name);
  } catch {}
};

/** When `pid` started, in clock ticks since boot (Linux); null where it cannot be told. */
const startTimeOf = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": starttime is the 22nd field, the 20th after comm.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return null;
  }
};

/**
 * Whether `pid` is still the agent recorded: alive, and started when it did (a pid reused
 * by another process started later). Unlike its environment or command line, a process's
 * start time does not change as it execs.
 */
const isAgent = (record: LocalInstance & { pid: number }): boolean =>
  processAlive(record.pid) && startTimeOf(record.pid) === record.startedAt;

/** SIGTERM, which a hung (stopped) agent gets once SIGCONT lets it run again. */
const askToExit = (child: ChildProcess) => {
  child.kill("SIGTERM");
  child.kill("SIGCONT");
};

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

interface Entry {
  id: string;
  folder: string;
  record: LocalInstance;
  /** The agent process, when this control plane started it. */
  child?: ChildProcess;
  /** Settles when the agent this control plane started has exited. */
  exited?: Promise<void>;
  /** What the agent was last started with, to start it again (kept in memory only). */
  agent?: LaunchRequest["agent"];
  terminated: boolean;
}

export class ProcessCompute implements Compute {
  readonly #instancesDir: string;
  readonly #agentEntry: string;
  readonly #nodePath: string;
  readonly #gpuProbe: () => Promise<boolean>;
  readonly #agentEnv: Record<string, string>;
  readonly #advertiseHost: string;
  readonly #onStateChange: NonNullable<ProcessComputeOptions["onStateChange"]>;
  readonly #entries = new Map<string, Entry>();
  /** Agents this control plane ended itself: their exit is no news. */
  readonly #exitsAsked = new WeakSet<ChildProcess>();
  /** Operations on one instance run one after another. */
  readonly #queues = new Map<string, Promise<unknown>>();
  #types: Promise<string[]> | undefined;
  readonly #onSpotNotice: NonNullable<ProcessComputeOptions["onSpotNotice"]>;
  /** Spot interruptions under way: each instance vanishes when its notice ends. */
  readonly #interruptions = new Set<NodeJS.Timeout>();
  readonly #onExit = () => {
    for (const entry of this.#entries.values()) if (entry.child) askToExit(entry.child);
  };

  constructor(options: ProcessComputeOptions) {
    this.#instancesDir = join(resolve(options.stateDir), "instances");
    this.#agentEntry = resolve(options.agentEntry ?? AGENT_BUNDLE);
    this.#nodePath = options.nodePath ?? process.execPath;
    this.#gpuProbe = options.gpuProbe ?? nvidiaSmiFindsGpus;
    this.#agentEnv = options.agentEnv ?? {};
    this.#advertiseHost = options.advertiseHost ?? "127.0.0.1";
    this.#onStateChange = options.onStateChange ?? (() => {});
    this.#onSpotNotice = options.onSpotNotice ?? (() => {});
    if (asRoot) {
      // Jobs run as other users: they must get through the state folder to their own
      // folders (searchable, not listable); the rest of it stays private to its owners.
      mkdirSync(this.#instancesDir, { recursive: true });
      chmodSync(resolve(options.stateDir), 0o711);
      chmodSync(this.#instancesDir, 0o711);
    }
    this.#recover();
    // Where setpriv cannot tie agents to this process, a normal exit still ends them.
    process.on("exit", this.#onExit);
  }

  async instanceTypes(): Promise<string[]> {
    this.#types ??= this.#gpuProbe().then(
      (gpus) => (gpus ? [CPU_TYPE, GPU_TYPE] : [CPU_TYPE]),
      () => [CPU_TYPE],
    );
    return [...(await this.#types)];
  }

  async launch(request: LaunchRequest): Promise<{ providerId: string }> {
    const offered = await this.instanceTypes();
    if (!offered.includes(request.instanceType))
      throw new ComputeError(
        "InvalidInstanceType",
        `${request.instanceType} is not offered here; local compute offers ${offered.join(", ")}`,
      );
    if (!existsSync(this.#agentEntry))
      throw new Error(`no agent at ${this.#agentEntry}: npm run build:agent writes it`);
    const id = request.instanceId;
    // Launched under this id before (a retried launch): that instance, as EC2's client token gives.
    if (this.#entries.has(id)) return { providerId: providerIdOf(id) };
    if (existsSync(join(this.#instancesDir, id)) || !/^[\w.-]+$/.test(id)) {
      throw new Error(`instance ${id} exists already, or is not a name for a folder`);
    }
    const folder = join(this.#instancesDir, id);
    await mkdir(folder, { recursive: true });
    if (asRoot) await chmod(folder, 0o711);
    const entry: Entry = {
      id,
      folder,
      record: {
        instanceType: request.instanceType,
        spot: request.spot,
        region: request.region,
        pid: null,
        startedAt: null,
        state: "stopped",
        launchedAt: new Date().toISOString(),
      },
      terminated: false,
    };
    this.#entries.set(id, entry);
    await this.#serial(id, async () => {
      try {
        await this.#startAgent(entry, request.agent);
      } catch (error) {
        this.#entries.delete(id);
        await rm(folder, { recursive: true, force: true });
        throw error;
      }
    });
    return { providerId: providerIdOf(id) };
  }

  async serviceAddress(_instanceId: string, _port: number) {
    return { host: this.#advertiseHost, port: await freePort() };
  }

  async start(instanceId: string, agent: LaunchRequest["agent"]): Promise<void> {
    const entry = this.#entry(instanceId);
    return this.#serial(instanceId, async () => {
      this.#refresh(entry);
      if (entry.record.state === "running") return;
      await this.#startAgent(entry, agent);
    });
  }

  async stop(instanceId: string): Promise<void> {
    const entry = this.#entry(instanceId);
    return this.#serial(instanceId, () => this.#stopAgent(entry));
  }

  /** The agent is killed outright (a hung one answers no SIGTERM) and started again. */
  async restartAgent(instanceId: string): Promise<void> {
    const entry = this.#entry(instanceId);
    return this.#serial(instanceId, async () => {
      const { agent } = entry;
      if (!agent)
        throw new Error(`the agent of ${instanceId} was not started here: it cannot be restarted`);
      await this.#killAgent(entry, { asked: true });
      await this.#startAgent(entry, agent);
    });
  }

  /** A fault: the agent dies (SIGKILL) on its own, as a crashed agent does; the instance stays. */
  async killAgent(instanceId: string): Promise<void> {
    await this.#killAgent(this.#entry(instanceId), { asked: false });
  }

  /** A fault: the agent hangs (SIGSTOP), alive but silent, until it is restarted or stopped. */
  hangAgent(instanceId: string): void {
    const { pid } = this.#entry(instanceId).record;
    if (pid === null) throw new Error(`instance ${instanceId} runs no agent`);
    signal(pid, "SIGSTOP");
  }

  /** A fault: the instance is gone (agent killed, folder deleted) without the control plane. */
  async vanish(instanceId: string): Promise<void> {
    const entry = this.#entry(instanceId);
    await this.#serial(instanceId, async () => {
      await this.#killAgent(entry, { asked: true });
      entry.terminated = true;
      this.#entries.delete(instanceId);
      await rm(entry.folder, { recursive: true, force: true });
    });
    this.#onStateChange({ instanceId, providerId: providerIdOf(instanceId), state: "terminated" });
  }

  /**
   * An agent that exits unasked is an instance shut down from inside: an on-demand one is
   * stopped, its folder kept; a one-time spot one is gone, as EC2 terminates it.
   */
  #exitedUnasked(entry: Entry): void {
    const change = { instanceId: entry.id, providerId: providerIdOf(entry.id) };
    if (!entry.record.spot) {
      this.#onStateChange({ ...change, state: "stopped" });
      return;
    }
    this.terminate(entry.id).then(
      () => this.#onStateChange({ ...change, state: "terminated" }),
      (error: unknown) => console.error(`terminating spot instance ${entry.id}: ${String(error)}`),
    );
  }

  /** An instance already gone (its folder deleted) is terminated: done. */
  async terminate(instanceId: string): Promise<void> {
    const entry = this.#entries.get(instanceId);
    if (!entry) return;
    return this.#serial(instanceId, async () => {
      await this.#stopAgent(entry);
      entry.terminated = true;
      this.#entries.delete(instanceId);
      await rm(entry.folder, { recursive: true, force: true });
    });
  }

  /**
   * A fault: a spot interruption. The notice now (`onSpotNotice`, as EC2's warning), and the
   * instance vanishes `noticeMs` later (two minutes on EC2) unless it is gone by then.
   */
  interrupt(instanceId: string, { noticeMs }: { noticeMs: number }): void {
    if (!this.#entry(instanceId).record.spot)
      throw new Error(`instance ${instanceId} is not a spot instance: it cannot be interrupted`);
    this.#onSpotNotice(providerIdOf(instanceId));
    const timer = setTimeout(() => {
      this.#interruptions.delete(timer);
      if (!this.#entries.has(instanceId)) return;
      this.vanish(instanceId).catch((error: unknown) =>
        console.error(`interrupting ${instanceId}: ${String(error)}`),
      );
    }, noticeMs);
    this.#interruptions.add(timer);
  }

  /** One instance as `instance.json` has it; undefined for an unknown (or terminated) id. */
  describe(instanceId: string): LocalInstance | undefined {
    const entry = this.#entries.get(instanceId);
    if (!entry) return undefined;
    this.#refresh(entry);
    return { ...entry.record };
  }

  /** Terminated instances are gone: their folders are deleted. */
  async list(): Promise<ComputeInstance[]> {
    return [...this.#entries.keys()].flatMap((instanceId) => {
      const record = this.describe(instanceId);
      if (!record) return [];
      const { state, launchedAt } = record;
      return [{ instanceId, providerId: providerIdOf(instanceId), state, launchedAt }];
    });
  }

  /** Stops every running agent (folders kept); the control plane calls it on its way out. */
  async shutdown(): Promise<void> {
    for (const timer of this.#interruptions) clearTimeout(timer);
    this.#interruptions.clear();
    await Promise.all(
      [...this.#entries.values()].map((entry) =>
        this.#serial(entry.id, () => this.#stopAgent(entry)),
      ),
    );
    process.off("exit", this.#onExit);
  }

  #entry(instanceId: string): Entry {
    const entry = this.#entries.get(instanceId);
    if (!entry) throw new Error(`no local instance ${instanceId}`);
    return entry;
  }

  #serial<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(instanceId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(instanceId, settled);
    void settled.then(() => {
      if (this.#queues.get(instanceId) === settled) this.#queues.delete(instanceId);
    });
    return next;
  }

  /** Reads the instances a previous control plane left; those whose agent is gone are stopped. */
  #recover(): void {
    let names: string[];
    try {
      names = readdirSync(this.#instancesDir);
    } catch {
      return;
    }
    for (const id of names) {
      const folder = join(this.#instancesDir, id);
      let record: LocalInstance;
      try {
        record = JSON.parse(readFileSync(join(folder, "instance.json"), "utf8")) as LocalInstance;
      } catch {
        continue;
      }
      const entry: Entry = { id, folder, record, terminated: false };
      this.#entries.set(id, entry);
      this.#refresh(entry);
    }
  }

  /** A running record whose agent is gone (crashed, killed) becomes stopped. */
  #refresh(entry: Entry): void {
    const { record } = entry;
    if (record.state !== "running") return;
    if (entry.child && entry.child.exitCode === null && entry.child.signalCode === null) return;
    if (!entry.child && record.pid !== null && isAgent({ ...record, pid: record.pid })) return;
    killLeftoverGroups(entry.folder);
    this.#setRecord(entry, { pid: null, startedAt: null, state: "stopped" });
  }

  #setRecord(entry: Entry, change: Partial<LocalInstance>): void {
    entry.record = { ...entry.record, ...change };
    if (entry.terminated) return;
    const file = join(entry.folder, "instance.json");
    const temporary = `${file}.tmp`;
    // For the control plane only: the instance's folder is searchable by its jobs' users.
    writeFileSync(temporary, `${JSON.stringify(entry.record, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
  }

  async #startAgent(entry: Entry, agent: LaunchRequest["agent"]): Promise<void> {
    // Leftovers of an agent that was killed outright must not run next to the new one.
    killLeftoverGroups(entry.folder);
    // The token goes in a file only the agent's user reads (the agent deletes it once read),
    // not in its environment, which /proc shows to every process of that user.
    const tokenFile = join(entry.folder, TOKEN_FILE);
    rmSync(tokenFile, { force: true });
    writeFileSync(tokenFile, agent.token, { mode: 0o600, flag: "wx" });
    // Nothing of this process's own environment: its state folder, its HOME, its secrets.
    const env: NodeJS.ProcessEnv = {
      ...inheritedEnv(process.env),
      HOME: entry.folder,
      // A CPU instance does not see the machine's GPUs.
      ...(entry.record.instanceType === CPU_TYPE ? { CUDA_VISIBLE_DEVICES: "" } : {}),
      ...this.#agentEnv,
      GPUCTL_ENDPOINT: agent.endpoint,
      [AGENT_TOKEN_FILE_ENV]: tokenFile,
      GPUCTL_INSTANCE_ID: entry.id,
      GPUCTL_AGENT_HOME: entry.folder,
    };
    const nodeArgs = ["--disable-warning=ExperimentalWarning", this.#agentEntry];
    // setpriv: the kernel sends the agent SIGTERM when this process dies, however it dies.
    const [command, args] = useSetpriv
      ? [SETPRIV, ["--pdeathsig", "TERM", this.#nodePath, ...nodeArgs]]
      : [this.#nodePath, nodeArgs];
    const log = openSync(join(entry.folder, "agent.log"), "a", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: entry.folder,
        env,
        detached: true,
        stdio: ["ignore", log, log],
      });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<void>((resolveExit) => {
      child.once("exit", () => {
        if (entry.child === child) {
          killLeftoverGroups(entry.folder);
          this.#setRecord(entry, { pid: null, startedAt: null, state: "stopped" });
          if (!this.#exitsAsked.has(child)) this.#exitedUnasked(entry);
        }
        resolveExit();
      });
    });
    await once(child, "spawn");
    entry.child = child;
    entry.exited = exited;
    entry.agent = agent;
    const pid = child.pid ?? null;
    this.#setRecord(entry, {
      pid,
      startedAt: pid === null ? null : startTimeOf(pid),
      state: "running",
    });
  }

  /** SIGKILL to the agent this control plane started, and its jobs' leftovers after it. */
  async #killAgent(entry: Entry, { asked }: { asked: boolean }): Promise<void> {
    const { child, exited } = entry;
    if (!child || !exited || child.exitCode !== null || child.signalCode !== null) return;
    if (asked) this.#exitsAsked.add(child);
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGTERM to the agent, SIGKILL after 10 s; then whatever its jobs left is killed too. */
  async #stopAgent(entry: Entry): Promise<void> {
    this.#refresh(entry);
    const { pid } = entry.record;
    if (entry.record.state === "running" && entry.child && entry.exited) {
      const child = entry.child;
      this.#exitsAsked.add(child);
      askToExit(child);
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await entry.exited;
      clearTimeout(timer);
    } else if (entry.record.state === "running" && pid !== null) {
      // An agent a previous control plane started: not a child of ours, so watch its pid.
      signal(pid, "SIGTERM");
      const deadline = Date.now() + STOP_GRACE_MS;
      while (processAlive(pid) && Date.now() < deadline) await sleep(50);
      if (processAlive(pid)) signal(pid, "SIGKILL");
      while (processAlive(pid) && Date.now() < deadline + STOP_GRACE_MS) await sleep(50);
    }
    killLeftoverGroups(entry.folder);
    if (entry.record.state !== "stopped" || entry.record.pid !== null)
      this.#setRecord(entry, { pid: null, startedAt: null, state: "stopped" });
  }
}
