import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { isTerminal, type Phase } from "../../../domain/phases.ts";
import type { Timeline, TimelinePhase } from "../../../domain/timeline.ts";
import {
  InvalidCursorError,
  type JobChange,
  type JobEventRecord,
  type JobRecord,
  type JobStore,
  type Page,
  type Submission,
  type SubmitResult,
  type WriteResult,
} from "../../../ports.ts";
import {
  jobEventFrom,
  jobEventItem,
  jobItem,
  jobRecordFrom,
  jobStatusIndex,
  keys,
  OPTIONAL_JOB_FIELDS,
  readableJobRecords,
} from "./items.ts";
import { INDEX, TABLE_SCHEMA } from "./schema.ts";
import { DynamoTable } from "./table.ts";
import { transact, type Write } from "./transact.ts";

const DAY_S = 86_400;
const IDEMPOTENCY_RETENTION_S = DAY_S;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

const epochS = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** The writes that persist one job transition: the conditional update, its event, and the lock it frees. */
export const jobChangeWrites = (
  tableName: string,
  change: JobChange,
  eventRetentionDays: number,
): Write[] => {
  const { before, after, event, at, by } = change;
  const stale = {
    conflict: "STALE_JOB" as const,
    message: `job ${after.id} changed since it was read (expected ${before.job.phase} v${before.job.version})`,
  };
  const { id, ...fields } = after;
  const set = { ...fields, updatedAt: at, ...jobStatusIndex(after, at) };
  const removed = OPTIONAL_JOB_FIELDS.filter((field) => after[field] === undefined);
  const names = Object.fromEntries(
    [...Object.keys(set), ...removed].map((name) => [`#${name}`, name]),
  );
  const writes: Write[] = [
    {
      item: {
        Update: {
          TableName: tableName,
          Key: keys.job(after.id),
          UpdateExpression: [
            `SET ${Object.keys(set)
              .map((name) => `#${name} = :${name}`)
              .join(", ")}`,
            removed.length ? `REMOVE ${removed.map((name) => `#${name}`).join(", ")}` : "",
          ].join(" "),
          ConditionExpression: "#phase = :expectedPhase AND #version = :expectedVersion",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ...Object.fromEntries(Object.entries(set).map(([name, value]) => [`:${name}`, value])),
            ":expectedPhase": before.job.phase,
            ":expectedVersion": before.job.version,
          },
        },
      },
      ...stale,
    },
    {
      item: {
        Put: {
          TableName: tableName,
          Item: jobEventItem(
            {
              jobId: after.id,
              version: after.version,
              at,
              event,
              from: before.job.phase,
              phase: after.phase,
              ...(after.reason ? { reason: after.reason } : {}),
              ...(by ? { by } : {}),
            },
            epochS(at) + eventRetentionDays * DAY_S,
          ),
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      ...stale,
    },
  ];
  if (before.modelName && isTerminal(after.phase)) {
    // The deployment has ended: its model name is free for the next one.
    writes.push({
      item: {
        Delete: {
          TableName: tableName,
          Key: keys.modelLock(before.owner, before.modelName),
          ConditionExpression: "attribute_not_exists(pk) OR jobId = :jobId",
          ExpressionAttributeValues: { ":jobId": after.id },
        },
      },
      ...stale,
    });
  }
  return writes;
};

const encodeCursor = (key: Record<string, unknown> | undefined) =>
  key ? Buffer.from(JSON.stringify(key)).toString("base64url") : undefined;

type IndexName = (typeof INDEX)[keyof typeof INDEX];

/**
 * The key a cursor holds, if this listing (on `indexName`, its partition key `value`) handed
 * it out: the table's and the index's key attributes, strings all, and nothing else. DynamoDB
 * answers any other start key with a ValidationException, a 500 to the caller.
 */
const decodeCursor = (cursor: string | undefined, indexName: IndexName, value: string) => {
  if (cursor === undefined) return undefined;
  const index = TABLE_SCHEMA.globalSecondaryIndexes.find((gsi) => gsi.indexName === indexName);
  const names = [
    TABLE_SCHEMA.partitionKey,
    TABLE_SCHEMA.sortKey,
    index?.partitionKey,
    index?.sortKey,
  ];
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    const handedOut =
      typeof key === "object" &&
      key !== null &&
      Object.keys(key).toSorted().join() === names.toSorted().join() &&
      Object.values(key).every((part) => typeof part === "string") &&
      index !== undefined &&
      (key as Record<string, unknown>)[index.partitionKey] === value;
    if (!handedOut) throw new Error("cursor of another listing");
    return key as Record<string, string>;
  } catch {
    throw new InvalidCursorError("cursor: not a cursor this listing handed out");
  }
};

export class DynamoJobStore extends DynamoTable implements JobStore {
  async submit({ record, idempotency, by }: Submission): Promise<SubmitResult> {
    const { job, createdAt } = record;
    const TableName = this.tableName;
    const writes: Write[] = [
      {
        item: {
          Put: {
            TableName,
            Item: jobItem(record),
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        conflict: "JOB_EXISTS",
        message: `job ${job.id} exists`,
      },
      {
        item: {
          Put: {
            TableName,
            Item: jobEventItem(
              {
                jobId: job.id,
                version: job.version,
                at: createdAt,
                event: record.replayOf
                  ? { type: "submitted", replayOf: record.replayOf }
                  : { type: "submitted" },
                phase: job.phase,
                ...(by ? { by } : {}),
              },
              epochS(createdAt) + this.eventRetentionDays * DAY_S,
            ),
          },
        },
        conflict: "JOB_EXISTS",
        message: `job ${job.id} exists`,
      },
    ];
    if (idempotency) {
      writes.push({
        item: {
          Put: {
            TableName,
            Item: {
              ...keys.idempotency(record.owner, idempotency.key),
              jobId: job.id,
              requestHash: idempotency.requestHash,
              expiresAt: epochS(createdAt) + IDEMPOTENCY_RETENTION_S,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        conflict: "IDEMPOTENCY_KEY_REUSED",
        message: `idempotency key ${idempotency.key} was used`,
      });
    }
    if (record.modelName) {
      writes.push({
        item: {
          Put: {
            TableName,
            Item: { ...keys.modelLock(record.owner, record.modelName), jobId: job.id },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        conflict: "MODEL_NAME_TAKEN",
        message: `modelName: an active deployment of yours already serves ${record.modelName}`,
      });
    }
    const written = await transact(this.client, writes);
    if (written.ok) return { ok: true, record, replayed: false };
    if (written.conflict === "IDEMPOTENCY_KEY_REUSED" && idempotency)
      return this.replay(record.owner, idempotency);
    return written;
  }

  /** The job a used idempotency key created, if the request is the same one. */
  private async replay(
    owner: string,
    idempotency: { key: string; requestHash: string },
  ): Promise<SubmitResult> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.idempotency(owner, idempotency.key),
        ConsistentRead: true,
      }),
    );
    const first = Item ? await this.get(String(Item.jobId)) : undefined;
    if (!Item || !first || Item.requestHash !== idempotency.requestHash) {
      return {
        ok: false,
        conflict: "IDEMPOTENCY_KEY_REUSED",
        message: `idempotency key ${idempotency.key} was used for a different request`,
      };
    }
    return { ok: true, record: first, replayed: true };
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.job(jobId), ConsistentRead: true }),
    );
    return Item ? jobRecordFrom(Item) : undefined;
  }

  async listByOwner(
    owner: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<Page<JobRecord>> {
    const limit = Math.min(Math.max(1, page.limit ?? DEFAULT_PAGE), MAX_PAGE);
    const { Items = [], LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX.byOwner,
        KeyConditionExpression: "gsi1pk = :owner",
        ExpressionAttributeValues: { ":owner": keys.owner(owner) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(page.cursor, INDEX.byOwner, keys.owner(owner)),
      }),
    );
    const cursor = encodeCursor(LastEvaluatedKey);
    return { items: readableJobRecords(Items), ...(cursor ? { cursor } : {}) };
  }

  async events(jobId: string): Promise<JobEventRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :events)",
      ExpressionAttributeValues: { ":pk": keys.job(jobId).pk, ":events": keys.eventPrefix },
      ConsistentRead: true,
    });
    return items.map(jobEventFrom);
  }

  async activeDeployment(owner: string, modelName: string): Promise<JobRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.modelLock(owner, modelName),
        ConsistentRead: true,
      }),
    );
    return Item ? this.get(String(Item.jobId)) : undefined;
  }

  async listByPhase(phase: Phase): Promise<JobRecord[]> {
    const items = await this.queryAll({
      IndexName: INDEX.byStatus,
      KeyConditionExpression: "gsi3pk = :phase",
      ExpressionAttributeValues: { ":phase": keys.jobStatus(phase) },
      ScanIndexForward: false,
    });
    return readableJobRecords(items);
  }

  async pageByPhase(
    phase: Phase,
    page: { limit?: number; cursor?: string; exceptOwner?: string } = {},
  ): Promise<Page<JobRecord>> {
    const limit = Math.min(Math.max(1, page.limit ?? DEFAULT_PAGE), MAX_PAGE);
    const { exceptOwner } = page;
    const { Items = [], LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX.byStatus,
        KeyConditionExpression: "gsi3pk = :phase",
        ...(exceptOwner !== undefined
          ? {
              FilterExpression: "#owner <> :owner",
              ExpressionAttributeNames: { "#owner": "owner" },
            }
          : {}),
        ExpressionAttributeValues: {
          ":phase": keys.jobStatus(phase),
          ...(exceptOwner !== undefined ? { ":owner": exceptOwner } : {}),
        },
        ScanIndexForward: true,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(page.cursor, INDEX.byStatus, keys.jobStatus(phase)),
      }),
    );
    const cursor = encodeCursor(LastEvaluatedKey);
    return { items: readableJobRecords(Items), ...(cursor ? { cursor } : {}) };
  }

  apply(change: JobChange): Promise<WriteResult> {
    return transact(this.client, jobChangeWrites(this.tableName, change, this.eventRetentionDays));
  }

  recordTimeline(
    jobId: string,
    phase: TimelinePhase,
    period: NonNullable<Timeline[TimelinePhase]>,
  ): Promise<WriteResult> {
    return this.updateExisting(jobId, "SET timeline.#name = :value", phase, period);
  }

  setEndpoint(jobId: string, url: string): Promise<WriteResult> {
    return this.updateExisting(jobId, "SET #name = :value", "endpoint", url);
  }

  setTaskToken(jobId: string, taskToken: string): Promise<WriteResult> {
    return this.updateExisting(jobId, "SET #name = :value", "taskToken", taskToken);
  }

  /** Sets one attribute of a job that must exist; these writes never change its phase. */
  private async updateExisting(
    jobId: string,
    UpdateExpression: string,
    name: string,
    value: unknown,
  ): Promise<WriteResult> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.job(jobId),
          UpdateExpression,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#name": name },
          ExpressionAttributeValues: { ":value": value },
        }),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { ok: false, conflict: "STALE_JOB", message: `job ${jobId} does not exist` };
    }
  }

  async timeline(jobId: string): Promise<Timeline | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.job(jobId),
        ProjectionExpression: "timeline",
        ConsistentRead: true,
      }),
    );
    return Item?.timeline as Timeline | undefined;
  }
}
