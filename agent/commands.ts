/**
 * What the agent does with each command of protocol.ts. Every command runs alongside the
 * poll loop (a run can last days and must stay abortable), heartbeats while it runs, and is
 * reported with its task token, unless an abort or the agent's shutdown overtook it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chmod, lchown, mkdir, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { constants } from "node:os";
import { join, sep } from "node:path";
import type { z } from "zod";
import { type ControlPlane, sleep } from "./client.ts";
import type { AgentConfig } from "./config.ts";
import { EnvCache, safeSegment } from "./env-cache.ts";
import { inheritedEnv } from "./environment.ts";
import { GroupRegistry, KILL_GRACE_MS, killGroup, signalGroup } from "./groups.ts";
import { handOver, type JobUser, jobUser, killUser } from "./job-users.ts";
import { describeError, log, redactUrl } from "./log.ts";
import { LogSync, sendSnapshots, type Upload } from "./log-sync.ts";
import {
  AGENT_ERRORS,
  boundReport,
  type Command,
  type JobAssignment,
  RESULT_UPLOADS_BATCH,
  type TimelineReport,
} from "./protocol.ts";
import {
  digestOf,
  download,
  eachLimited,
  insideJob,
  listFiles,
  realInsideJob,
  upload,
  verifyContent,
} from "./transfer.ts";

type TaskCommand = Exclude<Command, { type: "abort" | "preempt" }>;
type Outcome =
  | { ok: true; output: Record<string, unknown> }
  | { ok: false; error: string; cause: string };

/** The timeline periods the agent measures (names as in lambdas/domain/timeline.ts). */
type MeasuredPhase =
  | "API Transfer & Server Setup"
  | "M&D Serialization"
  | "Env Gear up"
  | "M&D Transfer"
  | "M&D Deserialization"
  | "Model Training"
  | "Result Serialization"
  | "Result Transfer";

const STDERR_TAIL_BYTES = 2048;
const HEALTH_INTERVAL_MS = 250;
const HEALTH_TIMEOUT_MS = 2_000;
const TRANSFER_CONCURRENCY = 4;
/** How long the last log upload of a command may hold up its report. */
const LOG_UPLOAD_TIMEOUT_MS = 60_000;
/**
 * The bound on the agent's shutdown: its jobs killed (5 s), the running job's checkpoint
 * uploaded. Within a spot interruption notice's two minutes, with time to spare for systemd
 * (agent/install/user-data.ts waits a little longer before it kills the agent).
 */
export const SHUTDOWN_LIMIT_MS = 90_000;
/**
 * How long a preempted job has between its SIGTERM and the SIGKILL to save a checkpoint,
 * where an abort gives it KILL_GRACE_MS. The grace and the checkpoint's upload
 * (CHECKPOINT_UPLOAD_MS) fit in a spot interruption notice's two minutes.
 */
export const PREEMPT_GRACE_MS = 30_000;
const CHECKPOINT_UPLOAD_MS = 80_000;
/** The reason an in-flight command is aborted with when its instance is being taken away. */
const PREEMPTION = "preemption";
/**
 * The steps that run a job's own commands: their logs are uploaded while they run, and
 * once more when they end, whatever the outcome.
 */
const LOGGED_STEPS: ReadonlySet<TaskCommand["type"]> = new Set(["gearUp", "run"]);

interface InFlight {
  command: TaskCommand;
  /** Aborted by an `abort` for its job, or by the agent's shutdown: kills its processes. */
  controller: AbortController;
}

interface Spawned {
  pgid: number;
  /** The exit code (128 + n when signal n ended it); rejects when it could not start. */
  exit: Promise<number>;
  /** Settles once the whole group is gone (leftovers of an exited command are killed). */
  gone: Promise<void>;
}

interface LiveGroup {
  kind: "setup" | "run";
  job: JobAssignment;
  gone: Promise<void>;
}

const iso = () => new Date().toISOString();
const ok = (output: Record<string, unknown>): Outcome => ({ ok: true, output });
const firstLine = (text: string) => text.trim().split("\n").at(-1)?.slice(0, 300) ?? "";

/** The last `bytes` bytes a file gained since it was `from` bytes long. */
const readTail = async (path: string, from: number, bytes: number): Promise<string> => {
  const file = await open(path, "r").catch(() => undefined);
  if (!file) return "";
  try {
    const { size } = await file.stat();
    const start = Math.max(from, size - bytes);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await file.read(buffer, 0, buffer.length, start);
    return buffer.toString("utf8");
  } finally {
    await file.close();
  }
};

/** Whether nothing listens on `port` now, on any address. */
const portFree = (port: number): Promise<boolean> =>
  new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, () => server.close(() => resolvePort(true)));
  });

const summarize = (output: Record<string, unknown>): string =>
  Object.entries(output)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.length : JSON.stringify(value)}`)
    .map((field) => `${field} `)
    .join("");

export class Agent {
  readonly #config: AgentConfig;
  readonly #controlPlane: ControlPlane;
  readonly #envs: EnvCache;
  readonly #groups: GroupRegistry;
  readonly #inFlight = new Set<InFlight>();
  readonly #live = new Map<number, LiveGroup>();
  readonly #setups = new Map<string, Promise<Outcome>>();
  readonly #timelines = new Map<string, Promise<void>>();
  readonly #tasks = new Set<Promise<void>>();
  /** Checkpoint uploads of preempted jobs under way, by job: the agent's shutdown lets them finish. */
  readonly #preempting = new Map<string, Promise<unknown>>();
  /** Aborted at shutdown: ends the retries of reports nobody will receive. */
  readonly #reports = new AbortController();
  /** Whether jobs run as users of their own (the agent is root), or as the agent's user. */
  readonly #ownUsers: boolean;

  constructor(config: AgentConfig, controlPlane: ControlPlane, ownUsers: boolean) {
    this.#config = config;
    this.#controlPlane = controlPlane;
    this.#envs = new EnvCache(config.home);
    this.#groups = new GroupRegistry(config.home);
    this.#ownUsers = ownUsers;
  }

  /** The env hashes whose setup finished on this disk, for the poll. */
  cachedEnvs(): Promise<string[]> {
    return this.#envs.list();
  }

  /** Starts carrying out `command` and returns at once. */
  handle(command: Command): void {
    if (command.type === "abort") {
      this.#abort(command.jobId);
      return;
    }
    if (command.type === "preempt") {
      this.#track(this.#preempt(command.jobId), `preempt job=${command.jobId}`);
      return;
    }
    const duplicate = [...this.#inFlight].some(
      (flight) => flight.command.taskToken === command.taskToken,
    );
    if (duplicate) {
      log(`${command.type} job=${command.job.jobId} already running, duplicate ignored`);
      return;
    }
    this.#track(this.#task(command), `${command.type} job=${command.job.jobId}`);
  }

  /** Carries out `work` alongside the poll loop; a failure of it is logged. */
  #track(work: Promise<void>, label: string): void {
    const task: Promise<void> = work
      .catch((error) => log(`${label}: ${describeError(error)}`))
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /**
   * The instance is going away: kill every job's process group (SIGTERM, SIGKILL after 5 s;
   * nothing is reported), then upload the checkpoint folder of each job that was running,
   * all of it within SHUTDOWN_LIMIT_MS.
   */
  async shutdown(): Promise<void> {
    const deadline = AbortSignal.timeout(SHUTDOWN_LIMIT_MS);
    // A preempted job's upload is under way already: it finishes, within the same bound.
    const running = this.#runs().filter(({ job }) => !this.#preempting.has(job.jobId));
    const preempting = [...this.#preempting.values()];
    for (const flight of this.#inFlight) flight.controller.abort();
    this.#reports.abort();
    await Promise.all([...this.#live.values()].map((group) => group.gone));
    await Promise.all(running.map(({ job }) => this.#saveCheckpoint(job, deadline)));
    const expired = new Promise((resolve) =>
      deadline.aborted ? resolve(undefined) : deadline.addEventListener("abort", resolve),
    );
    await Promise.race([Promise.all(preempting), expired]);
  }

  /** The groups running jobs' `run` commands, of one job or of all. */
  #runs(jobId?: string): LiveGroup[] {
    return [...this.#live.values()].filter(
      (group) => group.kind === "run" && (jobId === undefined || group.job.jobId === jobId),
    );
  }

  /**
   * The instance is about to be taken away (a spot interruption notice): the job's run gets
   * its SIGTERM now and PREEMPT_GRACE_MS to save a checkpoint, whatever else the job was
   * doing stops, and the checkpoint folder is uploaded. Nothing is reported: the instance's
   * end requeues the job, whose next attempt starts from that checkpoint.
   */
  async #preempt(jobId: string): Promise<void> {
    const running = this.#runs(jobId);
    const flights = [...this.#inFlight].filter((flight) => flight.command.job.jobId === jobId);
    for (const flight of flights) flight.controller.abort(PREEMPTION);
    log(`preempt job=${jobId} ${running.length > 0 ? "stopping its run" : "no run to stop"}`);
    const saving = Promise.all(
      running.map(async (group) => {
        await group.gone;
        await this.#saveCheckpoint(group.job, AbortSignal.timeout(CHECKPOINT_UPLOAD_MS));
      }),
    );
    this.#preempting.set(jobId, saving);
    await saving.finally(() => this.#preempting.delete(jobId));
  }

  /** Once the job's run is over: its leftovers end, then its checkpoint folder goes up, if it has one. */
  async #saveCheckpoint(job: JobAssignment, signal: AbortSignal): Promise<void> {
    await this.#killLeftovers(job);
    if (job.checkpointDir) await this.#uploadCheckpoint(job, job.checkpointDir, signal);
  }

  /** Last resort on exit: SIGKILL every group still alive, synchronously. */
  killAllNow(): void {
    for (const pgid of this.#groups.pgids()) signalGroup(pgid, "SIGKILL");
  }

  #abort(jobId: string): void {
    const flights = [...this.#inFlight].filter((flight) => flight.command.job.jobId === jobId);
    for (const flight of flights) flight.controller.abort();
    const what = flights.map((flight) => flight.command.type).join(", ");
    log(`abort job=${jobId} ${what ? `stopped ${what}` : "nothing was running"}`);
  }

  async #task(command: TaskCommand): Promise<void> {
    const { taskToken, job } = command;
    const flight: InFlight = { command, controller: new AbortController() };
    this.#inFlight.add(flight);
    const started = Date.now();
    let heartbeatFailed = false;
    const heartbeat = setInterval(() => {
      this.#controlPlane.heartbeat(job.credential, taskToken).then(
        () => {
          heartbeatFailed = false;
        },
        (error) => {
          if (!heartbeatFailed)
            log(`heartbeat ${command.type} job=${job.jobId}: ${describeError(error)}`);
          heartbeatFailed = true;
        },
      );
    }, this.#config.heartbeatMs);
    // A multi-node job's logs are its leader's, as its results are.
    const logged = LOGGED_STEPS.has(command.type) && (job.multiNode?.rank ?? 0) === 0;
    const logs = logged ? this.#logSync(job).start() : undefined;
    let outcome: Outcome;
    try {
      outcome = await this.#execute(command, flight.controller.signal);
    } catch (error) {
      outcome = { ok: false, error: AGENT_ERRORS[command.type], cause: describeError(error) };
    } finally {
      // A preempted step still beats while its checkpoint goes up: its workflow waits for
      // the instance's end, and must not take the agent for silent meanwhile.
      if (flight.controller.signal.reason === PREEMPTION)
        await this.#preempting.get(job.jobId)?.catch(() => undefined);
      clearInterval(heartbeat);
      this.#inFlight.delete(flight);
    }
    const line = `${command.type} job=${job.jobId}`;
    const took = `(${Date.now() - started} ms)`;
    const aborted = flight.controller.signal.aborted;
    // Before the report: once it is in, the job may end and its results be closed.
    await logs?.finish(AbortSignal.timeout(LOG_UPLOAD_TIMEOUT_MS));
    if (aborted) return log(`${line} aborted, not reported ${took}`);
    if (outcome.ok) {
      log(`${line} ok ${summarize(outcome.output)}${took}`);
      await this.#controlPlane.succeed(
        job.credential,
        { taskToken, output: boundReport(outcome.output) },
        this.#reports.signal,
      );
    } else {
      log(`${line} failed ${outcome.error}: ${firstLine(outcome.cause)} ${took}`);
      await this.#controlPlane.fail(
        job.credential,
        { taskToken, error: outcome.error, cause: outcome.cause },
        this.#reports.signal,
      );
    }
  }

  #execute(command: TaskCommand, signal: AbortSignal): Promise<Outcome> {
    switch (command.type) {
      case "prepare":
        return this.#prepare(command.job);
      case "gearUp":
        return this.#gearUp(command.job, signal);
      case "sendInputs":
        return this.#sendInputs(command.job, signal);
      case "run":
        return this.#run(command.job, signal);
      case "returnResults":
        return this.#returnResults(command.job, signal);
    }
  }

  #jobDir(jobId: string): string {
    return join(this.#config.home, "jobs", safeSegment("jobId", jobId));
  }

  /** The job's logs: the agent's, outside the job's folder, so the job cannot touch them. */
  #logsDir(jobId: string): string {
    return join(this.#config.home, "logs", safeSegment("jobId", jobId));
  }

  #user(job: JobAssignment): JobUser | undefined {
    return this.#ownUsers ? jobUser(this.#config.home, job.jobId) : undefined;
  }

  /** Ends whatever the job's user still runs: after it, nothing changes the job's folder. */
  async #killLeftovers(job: JobAssignment): Promise<void> {
    const user = this.#user(job);
    if (user) await killUser(user);
  }

  async #prepare(job: JobAssignment): Promise<Outcome> {
    const startedAt = iso();
    await this.#killLeftovers(job);
    await this.#wipeEarlierJobs(job);
    await this.#jobFolders(job);
    const envCached = this.#envs.isCached(job.envHash);
    await this.#timeline(job, "API Transfer & Server Setup", startedAt, iso());
    // The model and data the job will get and where each goes, kept with its logs.
    const serializing = iso();
    const manifest = job.inputs.map((input) => ({ path: input.path, url: redactUrl(input.url) }));
    await writeFile(
      join(this.#logsDir(job.jobId), "inputs.json"),
      `${JSON.stringify(manifest, null, 2)}\n`,
    );
    await this.#timeline(job, "M&D Serialization", serializing, iso());
    return ok({ envCached });
  }

  /**
   * Removes what earlier jobs left on the disk (their folders and logs, after ending their
   * users' processes) before this job takes the instance, so no job finds another's files.
   * The env cache stays: an instance only ever serves the jobs of one owner. This job's own
   * folder stays (a retry finds its checkpoints), as does that of any job a command is
   * still carrying out for.
   */
  async #wipeEarlierJobs(job: JobAssignment): Promise<void> {
    const { home } = this.#config;
    const busy = new Set([job.jobId, ...[...this.#inFlight].map((f) => f.command.job.jobId)]);
    const roots = [join(home, "jobs"), join(home, "logs")];
    const listed = await Promise.all(roots.map((root) => readdir(root).catch(() => [])));
    for (const jobId of new Set(listed.flat().filter((name) => !busy.has(name)))) {
      if (this.#ownUsers) await killUser(jobUser(home, jobId));
      for (const root of roots) await rm(join(root, jobId), { recursive: true, force: true });
      log(`prepare job=${job.jobId} removed the folders of earlier job ${jobId}`);
    }
  }

  /**
   * The job's folder and logs folder. Only what must be reached is searchable: the job's
   * user gets through the instance's folders to its own, which no one else may enter.
   */
  async #jobFolders(job: JobAssignment): Promise<void> {
    const { home } = this.#config;
    const jobDir = this.#jobDir(job.jobId);
    await mkdir(jobDir, { recursive: true, mode: 0o700 });
    await mkdir(this.#logsDir(job.jobId), { recursive: true, mode: 0o700 });
    const user = this.#user(job);
    if (user) {
      for (const dir of [home, join(home, "jobs"), join(home, "envs")]) {
        await mkdir(dir, { recursive: true });
        await chmod(dir, 0o711);
      }
      await chmod(join(home, "logs"), 0o700);
      await lchown(jobDir, user.uid, user.gid);
      await chmod(jobDir, 0o700);
    }
  }

  #gearUp(job: JobAssignment, signal: AbortSignal): Promise<Outcome> {
    if (this.#envs.isCached(job.envHash)) return Promise.resolve(ok({}));
    // Two jobs of one env on one instance share a single setup.
    const pending = this.#setups.get(job.envHash);
    if (pending) return pending;
    const setup = this.#setup(job, signal).finally(() => this.#setups.delete(job.envHash));
    this.#setups.set(job.envHash, setup);
    return setup;
  }

  async #setup(job: JobAssignment, signal: AbortSignal): Promise<Outcome> {
    const envDir = this.#envs.dir(job.envHash);
    await mkdir(envDir, { recursive: true });
    if (job.setup === undefined) {
      await this.#envs.markReady(job.envHash);
      return ok({});
    }
    const user = this.#user(job);
    if (user) await handOver(envDir, user);
    const logs = this.#logsDir(job.jobId);
    await mkdir(logs, { recursive: true, mode: 0o700 });
    const stderr = join(logs, "setup-stderr.log");
    const before = (await stat(stderr).catch(() => undefined))?.size ?? 0;
    const startedAt = iso();
    const spawned = await this.#spawn(job, "setup", job.setup, signal, {
      cwd: envDir,
      env: this.#jobEnv(job, envDir, { GPUCTL_ENV_DIR: envDir }),
      stdout: join(logs, "setup-stdout.log"),
      stderr,
    });
    const exitCode = await spawned.exit;
    await spawned.gone;
    await this.#killLeftovers(job);
    await this.#timeline(job, "Env Gear up", startedAt, iso());
    if (exitCode !== 0) {
      const tail = (await readTail(stderr, before, STDERR_TAIL_BYTES)).trimEnd();
      return {
        ok: false,
        error: AGENT_ERRORS.gearUp,
        cause: tail || `setup exited with code ${exitCode} and wrote nothing to stderr`,
      };
    }
    await this.#envs.markReady(job.envHash);
    return ok({});
  }

  async #sendInputs(job: JobAssignment, signal: AbortSignal): Promise<Outcome> {
    const startedAt = iso();
    const jobDir = this.#jobDir(job.jobId);
    try {
      await this.#jobFolders(job);
      // Every path is checked before anything is fetched.
      const targets = [...job.inputs, ...this.#checkpointFiles(job, jobDir)].map((input) => ({
        ...input,
        destination: insideJob(jobDir, input.path),
      }));
      try {
        await eachLimited(targets, TRANSFER_CONCURRENCY, ({ url, destination }) =>
          download(
            url,
            jobDir,
            destination,
            this.#controlPlane.authFor(url, job.credential),
            signal,
          ),
        );
      } finally {
        await this.#timeline(job, "M&D Transfer", startedAt, iso());
      }
      // Each content-addressed input is what its name says before the job may read it.
      const checking = iso();
      try {
        await eachLimited(targets, TRANSFER_CONCURRENCY, (target) =>
          verifyContent(target, target.destination),
        );
      } finally {
        await this.#timeline(job, "M&D Deserialization", checking, iso());
      }
      return ok({});
    } catch (error) {
      return { ok: false, error: AGENT_ERRORS.sendInputs, cause: describeError(error) };
    }
  }

  /**
   * The saved checkpoint's files, fetched with the inputs: each must lie in the job's
   * checkpoint folder, where the run finds it (GPUCTL_CHECKPOINT_DIR).
   */
  #checkpointFiles(job: JobAssignment, jobDir: string): JobAssignment["inputs"] {
    const files = job.checkpoint ?? [];
    const folder = job.checkpointDir && insideJob(jobDir, job.checkpointDir);
    for (const file of files) {
      if (!folder || !insideJob(jobDir, file.path).startsWith(folder + sep))
        throw new Error(`checkpoint file ${file.path} is not in the checkpoint folder`);
    }
    return files;
  }

  async #run(job: JobAssignment, signal: AbortSignal): Promise<Outcome> {
    const jobDir = this.#jobDir(job.jobId);
    const logs = this.#logsDir(job.jobId);
    await this.#jobFolders(job);
    const extra: Record<string, string> = { GPUCTL_ENV_DIR: this.#envs.dir(job.envHash) };
    if (job.checkpointDir !== undefined) {
      const checkpoints = insideJob(jobDir, job.checkpointDir);
      await realInsideJob(jobDir, checkpoints);
      await mkdir(checkpoints, { recursive: true });
      extra.GPUCTL_CHECKPOINT_DIR = checkpoints;
    }
    if (job.serve) {
      // Another process on the port would answer the health check in the job's stead.
      if (!(await portFree(job.serve.port)))
        return { ok: false, error: AGENT_ERRORS.run, cause: `port ${job.serve.port} is in use` };
      extra.PORT = String(job.serve.port);
    }
    const user = this.#user(job);
    if (user) await handOver(jobDir, user);
    const startedAt = iso();
    const spawned = await this.#spawn(job, "run", job.run, signal, {
      cwd: jobDir,
      env: this.#jobEnv(job, jobDir, extra),
      stdout: join(logs, "stdout.log"),
      stderr: join(logs, "stderr.log"),
    });
    // The open period first, so that a long run shows up in the timeline while it runs.
    void this.#timeline(job, "Model Training", startedAt);
    log(`run job=${job.jobId} started pgid=${spawned.pgid}`);
    if (job.serve) void this.#announce(job, job.serve, spawned, signal);
    const exitCode = await spawned.exit;
    await spawned.gone;
    await this.#killLeftovers(job);
    await this.#timeline(job, "Model Training", startedAt, iso());
    // A failed attempt's retry may run on another instance: it resumes from what this one
    // saved. (A preempted run's checkpoint is the preemption's to upload.)
    if (exitCode !== 0 && job.checkpointDir && !signal.aborted)
      await this.#uploadCheckpoint(job, job.checkpointDir, signal);
    return ok({ exitCode });
  }

  /** Inference: once the server answers 2xx on its health path, report where it serves. */
  async #announce(
    job: JobAssignment,
    serve: NonNullable<JobAssignment["serve"]>,
    spawned: Spawned,
    signal: AbortSignal,
  ): Promise<void> {
    let exited = false;
    const settled = () => {
      exited = true;
    };
    spawned.exit.then(settled, settled);
    const path = serve.healthPath.startsWith("/") ? serve.healthPath : `/${serve.healthPath}`;
    const health = `http://127.0.0.1:${serve.port}${path}`;
    for (;;) {
      if (exited || signal.aborted) return;
      try {
        const response = await fetch(health, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]),
        });
        await response.body?.cancel();
        if (response.ok) break;
      } catch {}
      await sleep(HEALTH_INTERVAL_MS, signal);
    }
    if (exited || signal.aborted) return;
    const { host } = serve;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${serve.port}`;
    try {
      await this.#controlPlane.endpointReady(job.credential, job.jobId, { url }, signal);
      log(`run job=${job.jobId} serving at ${url}`);
    } catch (error) {
      log(`run job=${job.jobId} endpoint ${url} not reported: ${describeError(error)}`);
    }
  }

  async #returnResults(job: JobAssignment, signal: AbortSignal): Promise<Outcome> {
    const collecting = iso();
    const jobDir = this.#jobDir(job.jobId);
    let startedAt: string | undefined;
    try {
      const declared = [...job.outputs];
      if (job.checkpointDir !== undefined) declared.push(job.checkpointDir);
      const files = new Set<string>();
      const missing: string[] = [];
      for (const path of declared) {
        const found = await listFiles(jobDir, path);
        if (found === undefined) missing.push(path);
        for (const file of found ?? []) files.add(file);
      }
      const uploads = [...files].map((key) => ({ file: join(jobDir, key), key }));
      const logs = await this.#logFiles(job);
      startedAt = iso();
      await this.#timeline(job, "Result Serialization", collecting, startedAt);
      await this.#upload(job, uploads, signal);
      await this.#sendLogs(job, logs, signal);
      const keys = [...uploads, ...logs].map((each) => each.key);
      return ok(missing.length > 0 ? { files: keys, missing } : { files: keys });
    } catch (error) {
      return { ok: false, error: AGENT_ERRORS.returnResults, cause: describeError(error) };
    } finally {
      if (startedAt) await this.#timeline(job, "Result Transfer", startedAt, iso());
      else await this.#timeline(job, "Result Serialization", collecting, iso());
    }
  }

  /** The job's log files, as `logs/<name>` among its results. */
  async #logFiles(job: JobAssignment): Promise<Upload[]> {
    const dir = this.#logsDir(job.jobId);
    const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
    return names
      .filter((entry) => entry.isFile())
      .map((entry) => ({ file: join(dir, entry.name), key: `logs/${entry.name}` }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /**
   * Uploads files a batch at a time: each batch's size and SHA-256 are announced to the
   * control plane, whose answer says where each file goes (on AWS a presigned S3 URL that
   * takes those bytes only, and soon expires: asked for just before the PUTs).
   */
  async #upload(job: JobAssignment, uploads: Upload[], signal: AbortSignal): Promise<void> {
    for (let start = 0; start < uploads.length; start += RESULT_UPLOADS_BATCH) {
      const batch = uploads.slice(start, start + RESULT_UPLOADS_BATCH);
      const files = new Array<{ path: string; size: number; sha256: string }>(batch.length);
      await eachLimited([...batch.keys()], TRANSFER_CONCURRENCY, async (index) => {
        const { file, key } = batch[index] as Upload;
        files[index] = { path: key, ...(await digestOf(file)) };
      });
      const { uploads: targets } = await this.#controlPlane.resultUploads(
        job.credential,
        job.jobId,
        { files },
        signal,
      );
      const puts = batch.map(({ file, key }, index) => {
        const target = targets[index];
        if (target?.path !== key)
          throw new Error(`the control plane answered no upload for ${key}`);
        return { file, target };
      });
      await eachLimited(puts, TRANSFER_CONCURRENCY, ({ file, target }) => {
        const auth = this.#controlPlane.authFor(target.url, job.credential);
        return upload(file, target.url, { ...target.headers, ...auth }, signal);
      });
    }
  }

  /** Uploads the job's logs as they change while a command runs (LogSync). */
  #logSync(job: JobAssignment): LogSync {
    return new LogSync({
      intervalMs: this.#config.logSyncMs,
      list: () => this.#logFiles(job),
      send: (logs, signal) => this.#sendLogs(job, logs, signal),
      label: `logs job=${job.jobId}`,
    });
  }

  /** Uploads a copy of each log as it is now, a log over the limit as its last part. */
  #sendLogs(job: JobAssignment, logs: Upload[], signal: AbortSignal): Promise<void> {
    const scratch = join(this.#config.home, "scratch");
    return sendSnapshots(logs, { maxBytes: this.#config.logMaxBytes, scratch }, (copies) =>
      this.#upload(job, copies, signal),
    );
  }

  async #uploadCheckpoint(
    job: JobAssignment,
    checkpointDir: string,
    signal: AbortSignal,
  ): Promise<void> {
    const jobDir = this.#jobDir(job.jobId);
    try {
      const files = (await listFiles(jobDir, checkpointDir)) ?? [];
      const uploads = files.map((key) => ({ file: join(jobDir, key), key }));
      await this.#upload(job, uploads, signal);
      log(`checkpoint job=${job.jobId} uploaded ${files.length} files`);
    } catch (error) {
      log(`checkpoint job=${job.jobId} upload failed: ${describeError(error)}`);
    }
  }

  /**
   * A job command's whole environment: what it needs to run (PATH, locale, which GPUs it
   * sees), HOME in its own folder, the job's env, ours on top. Nothing else of the agent's:
   * not its token, not the control plane's paths.
   */
  #jobEnv(job: JobAssignment, home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      ...inheritedEnv(process.env),
      HOME: home,
      ...job.env,
      ...extra,
      GPUCTL_JOB_ID: job.jobId,
      GPUCTL_AGENT_HOME: this.#config.home,
      ...(job.multiNode
        ? {
            GPUCTL_RANK: String(job.multiNode.rank),
            GPUCTL_WORLD_SIZE: String(job.multiNode.worldSize),
            GPUCTL_LEADER_ADDR: job.multiNode.leaderAddr,
          }
        : {}),
    };
  }

  /**
   * `sh -c command`, detached in a process group of its own, output appended to the given
   * files. Aborting `signal` kills the group (SIGTERM, then SIGKILL after 5 s).
   */
  async #spawn(
    job: JobAssignment,
    kind: LiveGroup["kind"],
    command: string,
    signal: AbortSignal,
    options: { cwd: string; env: NodeJS.ProcessEnv; stdout: string; stderr: string },
  ): Promise<Spawned> {
    if (signal.aborted) throw new Error(`${kind} aborted before it started`);
    const stdout = openSync(options.stdout, "a");
    const stderr = openSync(options.stderr, "a");
    let child: ChildProcess;
    try {
      child = spawn("/bin/sh", ["-c", command], {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ["ignore", stdout, stderr],
        ...this.#user(job),
      });
    } finally {
      closeSync(stdout);
      closeSync(stderr);
    }
    const exit = new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, exitSignal) =>
        resolve(code ?? 128 + (exitSignal ? constants.signals[exitSignal] : 0)),
      );
    });
    const pgid = child.pid;
    if (pgid === undefined) {
      const error = await exit.then(
        () => "no process",
        (reason: unknown) => reason,
      );
      throw new Error(`${kind} could not start: ${describeError(error)}`);
    }
    this.#groups.add(pgid, job.jobId);
    // A preempted run gets longer to save its checkpoint than an aborted one to stop.
    const onAbort = () =>
      void killGroup(pgid, signal.reason === PREEMPTION ? PREEMPT_GRACE_MS : KILL_GRACE_MS);
    signal.addEventListener("abort", onAbort, { once: true });
    const gone = exit
      .catch(() => undefined)
      .then(async () => {
        signal.removeEventListener("abort", onAbort);
        await killGroup(pgid);
        this.#groups.remove(pgid);
        this.#live.delete(pgid);
      });
    this.#live.set(pgid, { kind, job, gone });
    return { pgid, exit, gone };
  }

  /** Timeline reports of one job go out in order (an open period before its end); best effort. */
  #timeline(job: JobAssignment, phase: MeasuredPhase, startedAt: string, endedAt?: string) {
    const { jobId } = job;
    const report: z.infer<typeof TimelineReport> = endedAt
      ? { phase, startedAt, endedAt }
      : { phase, startedAt };
    const previous = this.#timelines.get(jobId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        await this.#controlPlane.timeline(job.credential, jobId, report);
      })
      .catch((error) => log(`timeline ${phase} job=${jobId}: ${describeError(error)}`));
    this.#timelines.set(jobId, next);
    void next.then(() => {
      if (this.#timelines.get(jobId) === next) this.#timelines.delete(jobId);
    });
    return next;
  }
}
