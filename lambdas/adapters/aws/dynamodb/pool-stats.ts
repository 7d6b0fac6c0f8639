import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { PutCommand, TransactGetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { type FleetGaps, fleetSource } from "../../../domain/cooling-policy.ts";
import type { InstancePool } from "../../../domain/instance.ts";
import {
  applyPoolChange,
  type PoolChange,
  type PoolEvidence,
  recordFleetGaps,
  type StoredPoolHistory,
} from "../../../domain/pool-history.ts";
import { PoolHistoryContended, type PoolStats } from "../../../ports.ts";
import { keys } from "./items.ts";
import { DynamoTable } from "./table.ts";

/**
 * Tries of one change before its step fails for the workflow to retry it: with the backoff
 * below, some 20 s of other changes landing first, while a Lambda has minutes.
 */
const MAX_TRIES = 50;
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 500;

/** Full jitter: contenders spread out rather than meet again at the same instant. */
const pause = (attempt: number) =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt)),
  );

type Item = Record<string, unknown> | undefined;

const versionOf = (item: Item) => (typeof item?.version === "number" ? item.version : 0);

const numbers = (value: unknown) => (Array.isArray(value) ? (value as number[]) : []);

const strings = (value: unknown) => (Array.isArray(value) ? (value as string[]) : []);

/**
 * The fleet as its item keeps it: each gap's owner as an index into the owners it holds,
 * a few bytes a gap where the owner's hash would take nine. Every recorded gap rewrites the
 * item, and DynamoDB bills writes by the kilobyte.
 */
const fleetItemOf = ({ gaps, shapes, sources }: FleetGaps) => {
  const owners = [...new Set(sources)];
  const index = new Map(owners.map((owner, i) => [owner, i]));
  return { gaps, shapes, owners, ownerOf: sources.map((source) => index.get(source) as number) };
};

/**
 * The fleet's gaps, their shapes and owners, paired from the newest back: an item written
 * before gaps had shapes offers only those that have one, and one written before they had
 * owners counts those without one as one unnamed owner's.
 */
const fleetOf = (item: Item): FleetGaps => {
  const gaps = numbers(item?.gaps);
  const shapes = numbers(item?.shapes);
  const owners = strings(item?.owners);
  const paired = Math.min(gaps.length, shapes.length);
  const newest = <T>(values: readonly T[]) => values.slice(Math.max(0, values.length - paired));
  const named = newest(numbers(item?.ownerOf)).map((i) => owners[i] ?? "");
  return {
    gaps: newest(gaps),
    shapes: newest(shapes),
    sources: [...Array<string>(paired - named.length).fill(""), ...named],
  };
};

const storedOf = (item: Item): StoredPoolHistory => ({
  idleSince: numbers(item?.idleSince),
  gaps: numbers(item?.gaps),
  changeIds: Array.isArray(item?.changeIds) ? (item.changeIds as string[]) : [],
});

/** Another writer changed an item since it was read: read again and retry. */
const lostRace = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some(
      (reason) => reason.Code === "ConditionalCheckFailed" || reason.Code === "TransactionConflict",
    ));

/**
 * One item per pool, and one for the whole fleet's gaps, each changed with optimistic
 * concurrency on its version. Both are read in one transactional read; a change that records
 * no gap (an instance going idle, so every release) writes the pool's item alone, one that
 * does writes both in one transaction: two calls per change whatever it is.
 */
export class DynamoPoolStats extends DynamoTable implements PoolStats {
  async update(pool: InstancePool, change: PoolChange): Promise<PoolEvidence> {
    const Key = keys.poolStats(pool);
    for (let attempt = 1; ; attempt++) {
      const [poolItem, fleetItem] = await this.#read(Key);
      const stored = storedOf(poolItem);
      const fleet = fleetOf(fleetItem);
      const applied = applyPoolChange(stored, change);
      if (!applied) return { history: { idleSince: stored.idleSince, gaps: stored.gaps }, fleet };
      const next = applied.stored;
      const nextFleet = recordFleetGaps(
        fleet,
        applied.recorded,
        stored.gaps,
        fleetSource(pool.owner),
      );
      try {
        const poolPut = this.#versionedPut(Key, poolItem, next);
        if (applied.recorded.length === 0) await this.client.send(new PutCommand(poolPut));
        else
          await this.client.send(
            new TransactWriteCommand({
              TransactItems: [
                { Put: poolPut },
                { Put: this.#versionedPut(keys.fleetStats, fleetItem, fleetItemOf(nextFleet)) },
              ],
            }),
          );
        return { history: { idleSince: next.idleSince, gaps: next.gaps }, fleet: nextFleet };
      } catch (error) {
        if (!lostRace(error)) throw error;
        if (attempt >= MAX_TRIES) throw new PoolHistoryContended(change.id, MAX_TRIES);
        await pause(attempt);
      }
    }
  }

  /** The pool's item and the fleet's, as of one instant. */
  async #read(Key: Record<string, string>): Promise<[Item, Item]> {
    const { Responses } = await this.client.send(
      new TransactGetCommand({
        TransactItems: [
          { Get: { TableName: this.tableName, Key } },
          { Get: { TableName: this.tableName, Key: keys.fleetStats } },
        ],
      }),
    );
    return [Responses?.[0]?.Item, Responses?.[1]?.Item];
  }

  /** A put of `fields` that holds only if the item is still at the version it was read at. */
  #versionedPut(Key: Record<string, string>, read: Item, fields: object) {
    const version = versionOf(read);
    return {
      TableName: this.tableName,
      Item: { ...Key, ...fields, version: version + 1 },
      ConditionExpression: version ? "version = :version" : "attribute_not_exists(pk)",
      ...(version ? { ExpressionAttributeValues: { ":version": version } } : {}),
    };
  }
}
