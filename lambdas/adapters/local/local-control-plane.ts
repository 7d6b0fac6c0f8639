/**
 * The local control plane: the same handlers, ASL files and use cases as on AWS, on real
 * local engines (DynamoDB Local, aws-local-stepfunctions), with agent processes for
 * instances and a folder for artifacts. `npm start` runs it; the e2e tests run it too.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { serve } from "@hono/node-server";
import type { StatusEvent } from "../../domain/status-events.ts";
import { createApi } from "../../handlers/api/app.ts";
import { workflowTasks } from "../../handlers/workflow/tasks.ts";
import type { StateMachineName } from "../../ports.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { recoverAfterRestart } from "../../use-cases/recover.ts";
import { DynamoInstanceStore } from "../aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../aws/dynamodb/job-store.ts";
import { createTableInput } from "../aws/dynamodb/schema.ts";
import { bindTasks } from "./bind-tasks.ts";
import { freePort, LOCAL_CREDENTIALS, startDynamoDbLocal } from "./dynamodb-local.ts";
import { FsArtifacts } from "./fs-artifacts.ts";
import { LocalWorkflows } from "./local-workflows.ts";
import { MemoryCommandQueue } from "./memory-command-queue.ts";
import { MemoryEventBus } from "./memory-event-bus.ts";
import { ProcessCompute } from "./process-compute.ts";

const STATE_MACHINES = join(import.meta.dirname, "../../../statemachines");
const TABLE_NAME = "gpuctl";
export const LOCAL_OWNER = "local";

export interface LocalOptions {
  /** Jobs, instances, artifacts and secrets live here, across restarts. */
  stateDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Keep DynamoDB's data in memory only (tests). */
  inMemory?: boolean;
  defaultCoolingPeriodS?: number;
  /** Makes the retry back-off and task retries take this many milliseconds (tests). */
  backoffMs?: number;
  /** Extra environment for the agents (tests shorten their heartbeat). */
  agentEnv?: Record<string, string>;
  onEvent?: (event: StatusEvent) => void;
}

/** Tokens that outlive a restart, so the CLI's config and running agents stay valid. */
const secrets = async (stateDir: string): Promise<{ userToken: string; agentToken: string }> => {
  const path = join(stateDir, "secrets.json");
  const existing = await readFile(path, "utf8").then(JSON.parse, () => undefined);
  if (existing) return existing;
  const fresh = {
    userToken: randomBytes(24).toString("hex"),
    agentToken: randomBytes(24).toString("hex"),
  };
  await writeFile(path, JSON.stringify(fresh), { mode: 0o600 });
  return fresh;
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
  await mkdir(join(stateDir, "dynamodb"), { recursive: true });
  const { userToken, agentToken } = await secrets(stateDir);
  const dynamodb = await startDynamoDbLocal(
    options.inMemory ? {} : { dbPath: join(stateDir, "dynamodb") },
  );
  const raw = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: "local",
    credentials: LOCAL_CREDENTIALS,
  });
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
  const compute = new ProcessCompute({
    stateDir,
    ...(options.agentEnv ? { agentEnv: options.agentEnv } : {}),
  });

  const definitions: Record<StateMachineName, string> = {
    "job-lifecycle": join(STATE_MACHINES, "job-lifecycle.asl.json"),
    "job-deadline": join(STATE_MACHINES, "job-deadline.asl.json"),
    "instance-cooling": join(STATE_MACHINES, "instance-cooling.asl.json"),
  };
  // The control plane and its workflows need each other: the handlers are bound once both exist.
  const cp: ControlPlane = {
    jobs: new DynamoJobStore(table),
    instances: new DynamoInstanceStore(table),
    compute,
    workflows: undefined as unknown as ControlPlane["workflows"],
    commands: new MemoryCommandQueue(),
    artifacts,
    events,
    clock: { now: () => new Date().toISOString() },
    settings: {
      region: "local",
      agent: { endpoint, token: agentToken },
      defaultCoolingPeriodS: options.defaultCoolingPeriodS ?? 300,
    },
  };
  const { backoffMs } = options;
  const workflows = new LocalWorkflows({
    definitions,
    ...bindTasks(definitions, workflowTasks(cp)),
    ...(backoffMs !== undefined
      ? {
          waitTimeOverrides: (state: string) =>
            state === "Back off before retrying" ? backoffMs : undefined,
          retryIntervalOverrides: () => backoffMs,
        }
      : {}),
  });
  cp.workflows = workflows;
  await recoverAfterRestart(cp);

  const api = createApi(cp, { users: { [userToken]: LOCAL_OWNER }, localArtifacts: artifacts });
  const server = serve({ fetch: api.fetch, port, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    userToken,
    cp,
    workflows,
    compute,
    events,
    /** Stops the server, the workflows, every agent process and DynamoDB Local. */
    stop: async () => {
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
