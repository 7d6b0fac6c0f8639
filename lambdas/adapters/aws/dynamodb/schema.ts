/**
 * The table's key schema and indexes: the one definition the CDK construct and the
 * local and test table creation both read. Access patterns: docs/storage.md.
 */
export const TABLE_SCHEMA = {
  partitionKey: "pk",
  sortKey: "sk",
  timeToLiveAttribute: "expiresAt",
  globalSecondaryIndexes: [
    { indexName: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    { indexName: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
    { indexName: "gsi3", partitionKey: "gsi3pk", sortKey: "gsi3sk" },
  ],
} as const;

/**
 * Jobs by owner and instances by their EC2 id share gsi1: their keys never meet (`OWNER#`,
 * `PROVIDER#`), and a table already deployed, or in a local state folder, serves both as is.
 */
export const INDEX = {
  byOwner: "gsi1",
  byProviderId: "gsi1",
  byPool: "gsi2",
  byStatus: "gsi3",
} as const;

/** `CreateTable` input for the same table, for DynamoDB Local and the tests. */
export const createTableInput = (tableName: string) => {
  const keys = [
    TABLE_SCHEMA.partitionKey,
    TABLE_SCHEMA.sortKey,
    ...TABLE_SCHEMA.globalSecondaryIndexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: keys.map((name) => ({
      AttributeName: name,
      AttributeType: "S" as const,
    })),
    KeySchema: [
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: "HASH" as const },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: TABLE_SCHEMA.globalSecondaryIndexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" as const },
        { AttributeName: index.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    })),
  };
};
