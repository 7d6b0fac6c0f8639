import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";

export interface StoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long job events are kept before DynamoDB's TTL removes them. */
  eventRetentionDays?: number;
}

const DEFAULT_EVENT_RETENTION_DAYS = 90;

/** What both stores share: the client, the table, and the event retention. */
export class DynamoTable {
  protected readonly client: DynamoDBDocumentClient;
  protected readonly tableName: string;
  protected readonly eventRetentionDays: number;

  constructor(options: StoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.eventRetentionDays = options.eventRetentionDays ?? DEFAULT_EVENT_RETENTION_DAYS;
  }

  /** Every item a query matches, across all its pages. */
  protected async queryAll(
    input: Omit<QueryCommandInput, "TableName">,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }
}
