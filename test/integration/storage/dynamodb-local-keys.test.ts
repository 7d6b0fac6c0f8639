import { mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import {
  keyedDatabaseFile,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalCredentials,
  newLocalCredentials,
  startDynamoDbLocal,
} from "../../../lambdas/adapters/local/dynamodb-local.ts";

const TABLE = "gpuctl";
// Each start of DynamoDB Local takes seconds on a busy machine.
const STARTS_TIMEOUT_MS = 120_000;
const stops: Array<() => Promise<void>> = [];
const folders: string[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

const start = async (options: { dbPath?: string; credentials: LocalCredentials }) => {
  const dynamodb = await startDynamoDbLocal(options);
  stops.push(dynamodb.stop);
  return dynamodb;
};

const clientOf = (endpoint: string, credentials: LocalCredentials, region = LOCAL_REGION) =>
  new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 1 });

const createTable = (client: DynamoDBClient) =>
  client.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );

const put = (client: DynamoDBClient, pk: string) =>
  client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: pk } } }));

const has = async (client: DynamoDBClient, pk: string) =>
  (await client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } } }))).Item !==
  undefined;

const stateFolder = async () => {
  const folder = await mkdtemp(join(tmpdir(), "gpuctl-dynamodb-"));
  folders.push(folder);
  return folder;
};

/** A client with any other key id, as a job that found the port would connect. */
const strangers = (endpoint: string) => [
  clientOf(endpoint, LOCAL_CREDENTIALS),
  clientOf(endpoint, { accessKeyId: "local", secretAccessKey: "local" }, "us-east-1"),
  clientOf(endpoint, newLocalCredentials()),
];

describe.each([
  ["in memory", async () => ({})],
  ["in a folder", async () => ({ dbPath: await stateFolder() })],
])("DynamoDB Local %s, keyed by access key id", (_, where) => {
  it(
    "shows a client with another key id none of the control plane's tables, and keeps its writes out",
    async () => {
      const credentials = newLocalCredentials();
      const { endpoint } = await start({ ...(await where()), credentials });
      const owner = clientOf(endpoint, credentials);
      await createTable(owner);
      await put(owner, "TOKEN#admin");

      for (const stranger of strangers(endpoint)) {
        expect((await stranger.send(new ListTablesCommand({}))).TableNames).toEqual([]);
        await expect(
          stranger.send(
            new GetItemCommand({ TableName: TABLE, Key: { pk: { S: "TOKEN#admin" } } }),
          ),
        ).rejects.toBeInstanceOf(ResourceNotFoundException);
        await expect(put(stranger, "TOKEN#forged")).rejects.toBeInstanceOf(
          ResourceNotFoundException,
        );
      }
      expect(await has(owner, "TOKEN#admin")).toBe(true);
      expect(await has(owner, "TOKEN#forged")).toBe(false);
    },
    STARTS_TIMEOUT_MS,
  );
});

describe("a state folder from before the keyed database", () => {
  it(
    "keeps its tables: its shared database becomes the control plane key id's, once",
    async () => {
      const dbPath = await stateFolder();
      // The file -sharedDb wrote: the same SQLite layout as a keyed database's.
      const before = newLocalCredentials();
      const old = await start({ dbPath, credentials: before });
      await createTable(clientOf(old.endpoint, before));
      await put(clientOf(old.endpoint, before), "JOB#kept");
      await old.stop();
      await rename(
        keyedDatabaseFile(dbPath, before.accessKeyId),
        join(dbPath, "shared-local-instance.db"),
      );

      const credentials = newLocalCredentials();
      const { endpoint, stop } = await start({ dbPath, credentials });
      expect(await has(clientOf(endpoint, credentials), "JOB#kept")).toBe(true);
      expect(await readdir(dbPath)).not.toContain("shared-local-instance.db");
      await put(clientOf(endpoint, credentials), "JOB#later");
      await stop();

      const again = await start({ dbPath, credentials });
      expect(await has(clientOf(again.endpoint, credentials), "JOB#later")).toBe(true);
    },
    STARTS_TIMEOUT_MS,
  );
});
