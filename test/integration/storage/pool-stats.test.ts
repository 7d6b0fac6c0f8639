import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { keys } from "../../../lambdas/adapters/aws/dynamodb/items.ts";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import { ADAPTIVE, EMPTY_FLEET, fleetSource } from "../../../lambdas/domain/cooling-policy.ts";
import {
  arrivalChange,
  idleChange,
  type PoolChange,
  recordFleetGaps,
} from "../../../lambdas/domain/pool-history.ts";
import { freshTable } from "../table.ts";

const pool = { instanceType: "g5.xlarge", envHash: "env", region: "us-east-1", owner: "ada" };
const job = (id: string) => ({ id, attempt: 1, requeues: 0 });
const instance = (id: string) => ({ id, coolingEpoch: 0 });
const ada = fleetSource(pool.owner);
/** The fleet after these gaps, each recorded by a pool of ada's whose gaps were those before it. */
const fleetOf = (...recorded: Array<[gap: number, poolGaps: number[]]>) =>
  recorded.reduce(
    (fleet, [gap, poolGaps]) => recordFleetGaps(fleet, [gap], poolGaps, ada),
    EMPTY_FLEET,
  );

/** A change whose id is unique in the test, so it is applied. */
const read = (): PoolChange => ({ id: `read:${Math.random()}`, type: "wentIdle", atS: 0 });

describe("pool statistics on DynamoDB", () => {
  it("keeps each pool's idle periods and the gaps they ended with", async () => {
    const stats = new DynamoPoolStats(await freshTable());
    await stats.update(pool, idleChange(instance("i-1"), 100));
    await stats.update(pool, idleChange(instance("i-2"), 130));
    await stats.update(pool, arrivalChange(job("a"), 160));
    const { history, fleet } = await stats.update(pool, arrivalChange(job("b"), 400));
    expect(history).toEqual({ idleSince: [], gaps: [30, 300] });
    const expected = fleetOf([30, []], [300, [30]]);
    expect(fleet).toEqual(expected);
    expect(fleet.gaps).toEqual([30, 300]);
    const other = await stats.update({ ...pool, region: "eu-west-1" }, read());
    expect(other.history).toEqual({ idleSince: [0], gaps: [] });
    // Another owner's pool of the same type, env and region learns from its own jobs only,
    // and from the fleet's gaps.
    const theirs = await stats.update({ ...pool, owner: "grace" }, read());
    expect(theirs).toEqual({ history: { idleSince: [0], gaps: [] }, fleet: expected });
  });

  it("records every one of 50 concurrent changes of one pool", async () => {
    const stats = new DynamoPoolStats(await freshTable());
    const times = Array.from({ length: 50 }, (_, i) => i + 1);
    await Promise.all(times.map((at) => stats.update(pool, idleChange(instance(`i-${at}`), at))));
    const { history } = await stats.update(pool, read());
    expect([...history.idleSince].sort((a, b) => a - b)).toEqual([0, ...times]);
  });

  it("adds each gap of 50 pools arriving at once to the fleet's gaps, once", async () => {
    const stats = new DynamoPoolStats(await freshTable());
    const pools = Array.from({ length: 50 }, (_, i) => ({ ...pool, envHash: `env-${i}` }));
    await Promise.all(
      pools.map((each) => stats.update(each, idleChange(instance(each.envHash), 0))),
    );
    await Promise.all(
      pools.map((each, i) => stats.update(each, arrivalChange(job(`${i}`), i + 1))),
    );
    const { fleet } = await stats.update(pool, read());
    expect([...fleet.gaps].sort((a, b) => a - b)).toEqual(pools.map((_, i) => i + 1));
    expect(fleet.shapes).toHaveLength(pools.length);
  });

  it("records a change again as a no-op that returns the history as stored", async () => {
    const stats = new DynamoPoolStats(await freshTable());
    const idle = idleChange(instance("i-1"), 100);
    await stats.update(pool, idle);
    expect((await stats.update(pool, idle)).history).toEqual({ idleSince: [100], gaps: [] });
    await stats.update(pool, idleChange(instance("i-2"), 150));
    // The same arrival recorded by an acquire and by its retry: one gap, in the pool and the fleet.
    const arrival = arrivalChange(job("a"), 200);
    const first = await stats.update(pool, arrival);
    const again = await stats.update(pool, { ...arrival, atS: 260 });
    expect(first).toEqual({ history: { idleSince: [100], gaps: [50] }, fleet: fleetOf([50, []]) });
    expect(again).toEqual(first);
    // The next attempt of the same job is another arrival.
    const retried = await stats.update(pool, arrivalChange({ ...job("a"), attempt: 2 }, 300));
    expect(retried).toEqual({
      history: { idleSince: [], gaps: [50, 200] },
      fleet: fleetOf([50, []], [200, [50]]),
    });
  });

  it("keeps the fleet's most recent gaps within its window, each with its owner's hash", async () => {
    const table = await freshTable();
    const stats = new DynamoPoolStats(table);
    const full = Array.from({ length: ADAPTIVE.fleetWindow }, (_, i) => i);
    const shapes = full.map(() => 0);
    const owners = Array.from({ length: 16 }, (_, i) => `other-${i}`);
    const ownerOf = full.map((i) => i % 16);
    const sources = ownerOf.map((i) => owners[i] as string);
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...keys.fleetStats, gaps: full, shapes, owners, ownerOf, version: 1 },
      }),
    );
    await stats.update(pool, idleChange(instance("i-1"), 0));
    const { fleet } = await stats.update(pool, arrivalChange(job("a"), 99_999));
    expect(fleet).toEqual(recordFleetGaps({ gaps: full, shapes, sources }, [99_999], [], ada));
    expect(fleet.gaps).toEqual([...full.slice(1), 99_999]);
    expect(fleet.sources.at(-1)).toBe(ada);
    const { Item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: keys.fleetStats }),
    );
    expect({ gaps: Item?.gaps, shapes: Item?.shapes }).toEqual({
      gaps: fleet.gaps,
      shapes: fleet.shapes,
    });
    // Each gap's owner, as an index into the owners the item holds, each once.
    const stored = (Item?.owners ?? []) as string[];
    const ownerIndexes = (Item?.ownerOf ?? []) as number[];
    expect(new Set(stored).size).toBe(stored.length);
    expect(ownerIndexes.map((i) => stored[i])).toEqual(fleet.sources);
  });

  it("offers of a fleet item written before gaps had shapes only the gaps that have one, and counts those without a source as one unnamed owner's", async () => {
    const table = await freshTable();
    const stats = new DynamoPoolStats(table);
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...keys.fleetStats, gaps: [10, 20, 30], shapes: [0.4, 0.5], version: 1 },
      }),
    );
    const { fleet } = await stats.update(pool, read());
    expect(fleet).toEqual({ gaps: [20, 30], shapes: [0.4, 0.5], sources: ["", ""] });
  });
});
