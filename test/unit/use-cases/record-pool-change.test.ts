import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, TransactGetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { idleChange } from "../../../lambdas/domain/pool-history.ts";
import { recordPoolChange } from "../../../lambdas/use-cases/record-pool-change.ts";
import { WORKFLOW_ERRORS } from "../../../lambdas/use-cases/workflow-errors.ts";

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamodb = mockClient(client);
const pools = new DynamoPoolStats({ client, tableName: "gpuctl" });
const pool = { instanceType: "g5.xlarge", envHash: "env", region: "us-east-1", owner: "ada" };
const lost = () => new ConditionalCheckFailedException({ message: "lost", $metadata: {} });

beforeEach(() => {
  dynamodb.reset();
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("recording a pool's history under contention", () => {
  it("tries until the change lands", async () => {
    dynamodb.on(TransactGetCommand).resolves({ Responses: [{}, {}] });
    dynamodb.on(PutCommand).rejectsOnce(lost()).rejectsOnce(lost()).resolves({});
    const recorded = recordPoolChange(
      { pools },
      pool,
      idleChange({ id: "i-1", coolingEpoch: 0 }, 5),
    );
    await vi.runAllTimersAsync();
    expect((await recorded).history.idleSince).toEqual([5]);
    expect(dynamodb).toHaveReceivedCommandTimes(PutCommand, 3);
  });

  it("fails its step as throttled, for the workflow to retry it, once 50 tries lost", async () => {
    dynamodb.on(TransactGetCommand).resolves({ Responses: [{}, {}] });
    dynamodb.on(PutCommand).rejects(lost());
    const recorded = recordPoolChange(
      { pools },
      pool,
      idleChange({ id: "i-1", coolingEpoch: 0 }, 5),
    );
    const failed = expect(recorded).rejects.toMatchObject({ name: WORKFLOW_ERRORS.throttled });
    await vi.runAllTimersAsync();
    await failed;
    expect(dynamodb).toHaveReceivedCommandTimes(PutCommand, 50);
  });
});
