import { beforeAll, describe, expect, it } from "vitest";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { poolJobArrived, poolWentIdle } from "../../../lambdas/domain/cooling-policy.ts";
import { freshTable } from "../table.ts";

const pool = { instanceType: "g5.xlarge", envHash: "env", region: "us-east-1", owner: "ada" };
let stats: DynamoPoolStats;
beforeAll(async () => {
  stats = new DynamoPoolStats(await freshTable());
});

describe("pool statistics on DynamoDB", () => {
  it("keeps each pool's idle periods and the gaps they ended with", async () => {
    await stats.update(pool, (history) => poolWentIdle(history, 100));
    await stats.update(pool, (history) => poolWentIdle(history, 130));
    await stats.update(pool, (history) => poolJobArrived(history, 160));
    const history = await stats.update(pool, (history) => poolJobArrived(history, 400));
    expect(history).toEqual({ idleSince: [], gaps: [30, 300] });
    const other = await stats.update({ ...pool, region: "eu-west-1" }, (history) => history);
    expect(other).toEqual({ idleSince: [], gaps: [] });
    // Another owner's pool of the same type, env and region learns from its own jobs only.
    const theirs = await stats.update({ ...pool, owner: "grace" }, (history) => history);
    expect(theirs).toEqual({ idleSince: [], gaps: [] });
  });

  it("applies concurrent changes one after another", async () => {
    const busy = { ...pool, envHash: "busy" };
    await Promise.all(
      [1, 2, 3].map((at) => stats.update(busy, (history) => poolWentIdle(history, at))),
    );
    const history = await stats.update(busy, (history) => history);
    expect([...history.idleSince].sort()).toEqual([1, 2, 3]);
  });
});
