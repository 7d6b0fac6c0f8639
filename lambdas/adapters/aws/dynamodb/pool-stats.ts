import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { PoolHistory } from "../../../domain/cooling-policy.ts";
import type { InstancePool } from "../../../domain/instance.ts";
import type { PoolStats } from "../../../ports.ts";
import { keys } from "./items.ts";
import { DynamoTable } from "./table.ts";

const ATTEMPTS = 5;

/** One item per pool, changed with optimistic concurrency on its version. */
export class DynamoPoolStats extends DynamoTable implements PoolStats {
  async update(
    pool: InstancePool,
    change: (history: PoolHistory) => PoolHistory,
  ): Promise<PoolHistory> {
    const Key = keys.poolStats(pool);
    let next: PoolHistory = { idleSince: [], gaps: [] };
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
      );
      const version = typeof Item?.version === "number" ? Item.version : 0;
      next = change({
        idleSince: (Item?.idleSince as number[]) ?? [],
        gaps: (Item?.gaps as number[]) ?? [],
      });
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...Key, ...next, version: version + 1 },
            ConditionExpression: version ? "version = :version" : "attribute_not_exists(pk)",
            ...(version ? { ExpressionAttributeValues: { ":version": version } } : {}),
          }),
        );
        return next;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return next;
  }
}
