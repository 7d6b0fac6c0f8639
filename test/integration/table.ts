import { randomUUID } from "node:crypto";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { createTableInput } from "../../lambdas/adapters/aws/dynamodb/schema.ts";
import { LOCAL_CREDENTIALS } from "../../lambdas/adapters/local/dynamodb-local.ts";

/** A new, empty gpuctl table on the run's DynamoDB Local, with a document client for it. */
export const freshTable = async () => {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: inject("dynamodbEndpoint"),
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const tableName = `gpuctl-${randomUUID()}`;
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  return { client, tableName };
};
