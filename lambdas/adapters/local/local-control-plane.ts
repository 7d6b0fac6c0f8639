/**
 * The local control plane: the same handlers, ASL files and use cases as on AWS, on real
 * local engines (DynamoDB Local, aws-local-stepfunctions), with agent processes for
 * instances and a folder for artifacts. `npm start` runs it; the e2e tests run it too.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { serve } from "@hono/node-server";
import { CONSOLE_DIR } from "../../../scripts/build-console.ts";
import {
  type CoolingLimits,
  type CostModel,
  DEFAULT_COST_MODEL,
  policyCoolingLimits,
} from "../../domain/cooling-policy.ts";
import type { ReapingRules } from "../../domain/reaping.ts";
import type { StatusEvent } from "../../domain/status-events.ts";
import { createApi } from "../../handlers/api/app.ts";
import { coolingExecutionEnded } from "../../handlers/events/cooling-execution-ended.ts";
import { workflowTasks } from "../../handlers/workflow/tasks.ts";
import type { Compute, LaunchRequest, StateMachineName } from "../../ports.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { type ReapReport, reap } from "../../use-cases/reap.ts";
import {
  instanceStateChanged,
  spotInterruptionWarned,
} from "../../use-cases/reconcile-instance.ts";
import { recoverAfterRestart } from "../../use-cases/recover.ts";
import { addFirstAdmin } from "../../use-cases/users.ts";
import { DynamoInstanceStore } from "../aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../aws/dynamodb/job-store.ts";
import { DynamoPoolStats } from "../aws/dynamodb/pool-stats.ts";
import { createTableInput } from "../aws/dynamodb/schema.ts";
import { DynamoUserStore } from "../aws/dynamodb/user-store.ts";
import { ScryptPasswords } from "../crypto/scrypt-passwords.ts";
import { bindTasks } from "./bind-tasks.ts";
import { type ComputeFaultRule, ComputeFaults, withComputeFaults } from "./compute-faults.ts";
import {
  freePort,
  LOCAL_REGION,
  type LocalCredentials,
  newLocalCredentials,
  startDynamoDbLocal,
} from "./dynamodb-local.ts";
import { FsArtifacts } from "./fs-artifacts.ts";
import { localCoolingTimers } from "./local-cooling-timers.ts";
import { LocalWorkflows } from "./local-workflows.ts";
import { MemoryCommandQueue } from "./memory-command-queue.ts";
import { MemoryEventBus } from "./memory-event-bus.ts";
import { MemoryMetrics } from "./memory-metrics.ts";
import { startPeriodicReaper } from "./periodic-reaper.ts";
import { ProcessCompute } from "./process-compute.ts";

const STATE_MACHINES = join(import.meta.dirname, "../../../statemachines");
const TABLE_NAME = "gpuctl";

export interface LocalOptions {
  /** Jobs, instances, artifacts and secrets live here, across restarts. */
  stateDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** The first admin's email, when there is no user yet to make them; LOCAL_ADMIN_EMAIL by default. */
  adminEmail?: string;
  /** Keep DynamoDB's data in memory only (tests). */
  inMemory?: boolean;
  /** What the cooling policy weighs; AWS's prices and boot times by default. */
  costModel?: CostModel;
  /** A new pool's warm period and the cap on any instance's; the cost model's break-even and MAX_WARM_S by default. */
  cooling?: CoolingLimits;
  /** Whether jobs may ask for spot capacity; yes by default. */
  spotAllowed?: boolean;
  /** Makes the retry back-off and task retries take this many milliseconds (tests). */
  backoffMs?: number;
  /** Extra environment for the agents (tests shorten their heartbeat). */
  agentEnv?: Record<string, string>;
  /** Whether this machine has GPUs, and so offers `local-gpu` too; `nvidia-smi -L` finds one by default. */
  gpuProbe?: () => Promise<boolean>;
  /**
   * How often the reaper runs (as the stack's 5-minute schedule on AWS): every minute by
   * default; 0 only when `reapNow` asks (tests).
   */
  reaperIntervalMs?: number;
  /** The grace the reaper gives the control plane's own steps (LOCAL_REAPING by default). */
  reaping?: ReapingRules;
  /** Faults the compute raises from the start (GPUCTL_FAULTS); the returned `faults` changes them. */
  faults?: ComputeFaultRule[];
  /**
   * Seconds an agent may go without a heartbeat before it counts as silent, instead of the
   * workflow's HeartbeatSeconds (tests, whose agents beat every second).
   */
  heartbeatTimeoutS?: number;
  onEvent?: (event: StatusEvent) => void;
  /** Measures what the control plane does (bench/control-plane.ts); none of them changes it. */
  probes?: LocalProbes;
  /**
   * Other definitions of the three machines, and which task each of their `${...}`
   * placeholders names: a test runs the definitions a stack synthesized, whose placeholders
   * name functions. The ASL files, each placeholder a task by its name, by default.
   */
  workflows?: {
    definitions: Record<StateMachineName, string>;
    tasks: (byName: TaskFunctions) => TaskFunctions;
  };
}

/**
 * Each probe wraps one kind of call that is a billed request on AWS, and must make it.
 * Wrappers rather than callbacks: a probe can time the call and attribute its DynamoDB use.
 */
export interface LocalProbes {
  /** Gets the DynamoDB client before its first request, to add middleware to its stack. */
  dynamodb?: (client: DynamoDBClient) => void;
  /** Every HTTP request, users' and agents' (API Gateway and a Lambda invocation on AWS). */
  apiRequest?: (request: Request, handle: () => Promise<Response>) => Promise<Response>;
  /** Every workflow task (a Lambda invocation on AWS), by its `${...Function}` name. */
  task?: (name: string, payload: unknown, invoke: () => Promise<unknown>) => Promise<unknown>;
  /** Every launch of a new instance (RunInstances on AWS). */
  launch?: (request: LaunchRequest, launch: () => Promise<void>) => Promise<void>;
}

export type TaskFunctions = Record<string, (payload: unknown) => Promise<unknown>>;

const probedTasks = (tasks: TaskFunctions, probe: LocalProbes["task"]): TaskFunctions =>
  probe
    ? Object.fromEntries(
        Object.entries(tasks).map(([name, fn]) => [
          name,
          (payload: unknown) => probe(name, payload, () => fn(payload)),
        ]),
      )
    : tasks;

const probedCompute = (compute: Compute, probe: LocalProbes["launch"]): Compute =>
  probe
    ? {
        instanceTypes: () => compute.instanceTypes(),
        launch: async (request) => {
          let launched: { providerId: string } | undefined;
          await probe(request, async () => {
            launched = await compute.launch(request);
          });
          if (!launched) throw new Error(`the launch probe did not launch ${request.instanceId}`);
          return launched;
        },
        start: (instanceId, agent) => compute.start(instanceId, agent),
        stop: (instanceId) => compute.stop(instanceId),
        restartAgent: (instanceId) => compute.restartAgent(instanceId),
        terminate: (instanceId) => compute.terminate(instanceId),
        serviceAddress: (instanceId, port) => compute.serviceAddress(instanceId, port),
        list: () => compute.list(),
      }
    : compute;

/** What outlives a restart in the state folder, readable by this process only. */
interface LocalSecrets {
  /** The agents' shared secret: running agents stay valid. */
  agentSecret: string;
  /** The control plane's DynamoDB Local key id: its tables are that key id's database. */
  dynamodb: LocalCredentials;
  /** The first admin and their access token, which `npm start` writes into the CLI's config. */
  admin?: FirstAdmin;
}

export interface FirstAdmin {
  email: string;
  token: string;
}

const isFirstAdmin = (value: unknown): value is FirstAdmin =>
  typeof (value as FirstAdmin | undefined)?.email === "string" &&
  typeof (value as FirstAdmin).token === "string";

const secretsPath = (stateDir: string) => join(stateDir, "secrets.json");

const writeSecrets = (stateDir: string, secrets: LocalSecrets) =>
  writeFile(secretsPath(stateDir), JSON.stringify(secrets), { mode: 0o600 });

const isLocalCredentials = (value: unknown): value is LocalCredentials =>
  typeof (value as LocalCredentials | undefined)?.accessKeyId === "string" &&
  typeof (value as LocalCredentials).secretAccessKey === "string";

/** The kept secrets; each one missing (a new folder, or one from before it existed) made now. */
const secrets = async (stateDir: string): Promise<LocalSecrets> => {
  const existing = await readFile(secretsPath(stateDir), "utf8").then(JSON.parse, () => undefined);
  const kept: LocalSecrets = {
    agentSecret:
      typeof existing?.agentSecret === "string"
        ? existing.agentSecret
        : randomBytes(32).toString("hex"),
    dynamodb: isLocalCredentials(existing?.dynamodb) ? existing.dynamodb : newLocalCredentials(),
    ...(isFirstAdmin(existing?.admin) ? { admin: existing.admin } : {}),
  };
  if (kept.agentSecret !== existing?.agentSecret || kept.dynamodb !== existing?.dynamodb)
    await writeSecrets(stateDir, kept);
  return kept;
};

/** The first admin's address when GPUCTL_ADMIN_EMAIL names none. */
export const LOCAL_ADMIN_EMAIL = "admin@gpuctl.local";

/**
 * The first admin, with their token: made when the table has no user yet (a new state
 * folder, or DynamoDB in memory) and kept with the secrets, so each restart hands out that
 * same token rather than a new one. Undefined when users exist and none was kept.
 */
const firstAdmin = async (
  cp: ControlPlane,
  stateDir: string,
  kept: LocalSecrets,
  email: string,
): Promise<FirstAdmin | undefined> => {
  const added = await addFirstAdmin(cp, { email });
  if (!added.ok && added.error === "CONFLICT") return kept.admin;
  if (!added.ok) {
    const why = "fields" in added ? added.fields.map((field) => field.message).join("; ") : "";
    throw new Error(`the first admin's email ${JSON.stringify(email)}: ${why || added.message}`);
  }
  const admin = { email: added.user.email, token: added.token.token };
  await writeSecrets(stateDir, { ...kept, admin });
  return admin;
};

/** The local reaper's period: a minute, so a GPU left behind on this machine goes soon. */
export const LOCAL_REAPER_INTERVAL_MS = 60_000;

/** Local launches are recorded and releases run within a second or two: a short grace. */
export const LOCAL_REAPING: ReapingRules = { graceS: 30 };

/** What a reaper run did, where someone reads it (`npm start`'s output). */
const logReap = ({ done, failed, canceled, deleteFailed, stuckJobs }: ReapReport) => {
  if (Object.keys(done).length || canceled.length)
    console.log(`reaper: ${JSON.stringify({ done, canceled })}`);
  if (failed.length) console.error(`reaper actions failed: ${JSON.stringify(failed)}`);
  if (deleteFailed.length)
    console.error(
      `reaper: canceled jobs whose instance could not be stopped or terminated yet: ${deleteFailed.join(", ")}`,
    );
  if (stuckJobs.length) console.error(`reaper: stuck jobs: ${JSON.stringify(stuckJobs)}`);
};

const createTable = async (client: DynamoDBClient) => {
  try {
    await client.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
};

export const startLocalControlPlane = async (options: LocalOptions) => {
  const { stateDir } = options;
  // Jobs may run as other users, who get through the state folder to their instances'
  // folders (docs/isolation.md): the data of every job stays private to this process.
  for (const data of ["dynamodb", "artifacts"]) {
    await mkdir(join(stateDir, data), { recursive: true, mode: 0o700 });
    await chmod(join(stateDir, data), 0o700);
  }
  const kept = await secrets(stateDir);
  const { agentSecret } = kept;
  const dynamodb = await startDynamoDbLocal({
    credentials: kept.dynamodb,
    ...(options.inMemory ? {} : { dbPath: join(stateDir, "dynamodb") }),
  });
  const raw = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: LOCAL_REGION,
    credentials: kept.dynamodb,
  });
  const probes = options.probes ?? {};
  probes.dynamodb?.(raw);
  await createTable(raw);
  const client = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const table = { client, tableName: TABLE_NAME };

  const port = options.port || (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const artifacts = new FsArtifacts(join(stateDir, "artifacts"), endpoint);
  const events = new MemoryEventBus();
  if (options.onEvent) events.subscribe(options.onEvent);
  const commands = new MemoryCommandQueue();
  const compute = new ProcessCompute({
    stateDir,
    ...(options.agentEnv ? { agentEnv: options.agentEnv } : {}),
    ...(options.gpuProbe ? { gpuProbe: options.gpuProbe } : {}),
    // As EC2's state-change events reach the stack's rule on AWS.
    onStateChange: (change) => {
      instanceStateChanged(cp, { ...change, at: cp.clock.now() }).catch((error: unknown) =>
        console.error(`after ${change.providerId} ${change.state}: ${String(error)}`),
      );
    },
    // As EC2's spot interruption warnings reach the same rule.
    onSpotNotice: (providerId) => {
      spotInterruptionWarned(cp, providerId).catch((error: unknown) =>
        console.error(`after a spot notice for ${providerId}: ${String(error)}`),
      );
    },
  });
  const faults = new ComputeFaults();
  for (const rule of options.faults ?? []) faults.inject(rule);

  const definitions: Record<StateMachineName, string> = options.workflows?.definitions ?? {
    "job-lifecycle": join(STATE_MACHINES, "job-lifecycle.asl.json"),
    "job-deadline": join(STATE_MACHINES, "job-deadline.asl.json"),
    "instance-cooling": join(STATE_MACHINES, "instance-cooling.asl.json"),
  };
  const placeholderTasks = options.workflows?.tasks ?? ((byName: TaskFunctions) => byName);
  const { backoffMs, heartbeatTimeoutS } = options;
  // The workflows' tasks and the control plane holding those workflows need each other:
  // the tasks find the control plane when they run, after both exist.
  const workflows = new LocalWorkflows({
    definitions,
    journal: join(stateDir, "workflows.jsonl"),
    // As the stack's rule on Step Functions' status changes does on AWS.
    onExecutionEnd: (end) => {
      if (end.machine !== "instance-cooling") return;
      coolingExecutionEnded(cp, end).catch((error: unknown) =>
        console.error(`after cooling execution ${end.name}: ${String(error)}`),
      );
    },
    ...bindTasks(
      definitions,
      placeholderTasks(
        probedTasks(
          workflowTasks(() => cp),
          probes.task,
        ),
      ),
    ),
    ...(backoffMs !== undefined
      ? {
          waitTimeOverrides: (state: string) =>
            state === "Back off before retrying" ? backoffMs : undefined,
          retryIntervalOverrides: () => backoffMs,
        }
      : {}),
    ...(heartbeatTimeoutS !== undefined
      ? { heartbeatSecondsOverrides: () => heartbeatTimeoutS }
      : {}),
  });
  const costModel = options.costModel ?? DEFAULT_COST_MODEL;
  const cp: ControlPlane = {
    jobs: new DynamoJobStore(table),
    instances: new DynamoInstanceStore(table),
    pools: new DynamoPoolStats(table),
    users: new DynamoUserStore(table),
    passwords: new ScryptPasswords(),
    compute: probedCompute(
      withComputeFaults(
        compute,
        faults,
        async (instanceId) => (await cp.instances.get(instanceId))?.pool.instanceType,
        (instanceId, noticeMs) => {
          // One gone by then (terminated, interrupted already) has nothing left to interrupt.
          if (compute.describe(instanceId)?.state === "running")
            compute.interrupt(instanceId, { noticeMs });
        },
      ),
      probes.launch,
    ),
    workflows,
    coolingTimers: localCoolingTimers(workflows),
    commands,
    artifacts,
    events,
    metrics: new MemoryMetrics(),
    clock: { now: () => new Date().toISOString() },
    settings: {
      region: "local",
      agent: { endpoint, secret: agentSecret },
      costModel,
      cooling: options.cooling ?? policyCoolingLimits(costModel),
      spotAllowed: options.spotAllowed ?? true,
    },
  };

  const admin = await firstAdmin(cp, stateDir, kept, options.adminEmail ?? LOCAL_ADMIN_EMAIL);
  const api = createApi(cp, {
    polledCommands: commands,
    localArtifacts: artifacts,
    consoleAssets: CONSOLE_DIR,
  });
  const { apiRequest } = probes;
  const fetch: typeof api.fetch = apiRequest
    ? (request, ...rest) => apiRequest(request, async () => api.fetch(request, ...rest))
    : api.fetch;
  const server = serve({ fetch, port, hostname: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} is in use: choose another with GPUCTL_PORT`)
          : error,
      ),
    );
  });
  // Only once the server answers: recovery restarts workflows whose agents will call it.
  const recovery = await recoverAfterRestart(cp);
  for (const { instanceId, error } of recovery.closeFailures)
    console.error(`instance ${instanceId} left closing for the reaper: ${error}`);
  // After recovery, which leaves stopped instances with no timer: the reaper ends them on their plan.
  const reaper = startPeriodicReaper({
    intervalMs: options.reaperIntervalMs ?? LOCAL_REAPER_INTERVAL_MS,
    reap: () => reap(cp, options.reaping ?? LOCAL_REAPING),
    onReport: logReap,
    onFailure: (error) => console.error(`reaper run failed: ${String(error)}`),
  });

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    admin,
    cp,
    workflows,
    compute,
    /** The faults the compute raises now: inject one, or clear them all. */
    faults,
    events,
    /** Runs the reaper once now, after any run in flight, and reports what it did. */
    reapNow: reaper.reapNow,
    /** Stops the reaper, the server, the workflows, every agent process and DynamoDB Local. */
    stop: async () => {
      await reaper.stop();
      await workflows.stopAll();
      await compute.shutdown();
      // Agents long-poll: close their idle connections rather than wait out their polls.
      const closed = new Promise((resolve) => server.close(resolve));
      if ("closeAllConnections" in server) server.closeAllConnections();
      await closed;
      raw.destroy();
      await dynamodb.stop();
    },
  };
};
