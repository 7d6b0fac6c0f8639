/** Vitest globalSetup: one in-memory DynamoDB Local per test run, stopped after the run. */
import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../lambdas/adapters/local/dynamodb-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynamoDbLocal();
  project.provide("dynamodbEndpoint", dynamodb.endpoint);
  return dynamodb.stop;
}
