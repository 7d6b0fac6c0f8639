import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Instance, InstancePool, InstanceStatus } from "../../../domain/instance.ts";
import type { InstanceChange, InstanceStore, JobChange, WriteResult } from "../../../ports.ts";
import { instanceFrom, instanceItem, keys } from "./items.ts";
import { jobChangeWrites } from "./job-store.ts";
import { INDEX } from "./schema.ts";
import { DynamoTable } from "./table.ts";
import { transact } from "./transact.ts";

export class DynamoInstanceStore extends DynamoTable implements InstanceStore {
  async create(instance: Instance, at: string): Promise<WriteResult> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: instanceItem(instance, at),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { ok: false, conflict: "INSTANCE_EXISTS", message: `instance ${instance.id} exists` };
    }
  }

  async get(instanceId: string): Promise<Instance | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.instance(instanceId),
        ConsistentRead: true,
      }),
    );
    return Item ? instanceFrom(Item) : undefined;
  }

  async findReusable(pool: InstancePool): Promise<Instance[]> {
    const byStatus = await Promise.all(
      (["COOLING", "STOPPED"] as const).map((status) =>
        this.query(INDEX.byPool, "gsi2pk", keys.pool(pool, status)),
      ),
    );
    return byStatus.flat();
  }

  listByStatus(status: InstanceStatus): Promise<Instance[]> {
    return this.query(INDEX.byStatus, "gsi3pk", keys.instanceStatus(status));
  }

  /**
   * From gsi1, so eventually consistent: just after its launch is recorded, an instance may
   * not be found yet, never found as another (an EC2 id is never reused).
   */
  async getByProviderId(providerId: string): Promise<Instance | undefined> {
    const found = await this.query(INDEX.byProviderId, "gsi1pk", keys.providerId(providerId));
    return found[0];
  }

  /** Every instance under one index key, most recently changed first. */
  private async query(IndexName: string, keyName: string, key: string): Promise<Instance[]> {
    const items = await this.queryAll({
      IndexName,
      KeyConditionExpression: "#key = :key",
      ExpressionAttributeNames: { "#key": keyName },
      ExpressionAttributeValues: { ":key": key },
      ScanIndexForward: false,
    });
    return items.map(instanceFrom);
  }

  apply(change: InstanceChange, jobChange?: JobChange): Promise<WriteResult> {
    const { before, after, at } = change;
    return transact(this.client, [
      {
        item: {
          Put: {
            TableName: this.tableName,
            Item: instanceItem(after, at),
            ConditionExpression: "#version = :expectedVersion",
            ExpressionAttributeNames: { "#version": "version" },
            ExpressionAttributeValues: { ":expectedVersion": before.version },
          },
        },
        conflict: "STALE_INSTANCE",
        message: `instance ${after.id} changed since it was read (expected ${before.status} v${before.version})`,
      },
      ...(jobChange ? jobChangeWrites(this.tableName, jobChange, this.eventRetentionDays) : []),
    ]);
  }
}
