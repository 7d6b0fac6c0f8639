import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../../lambdas/adapters/aws/dynamodb/items.ts";
import { parseJobSpec, retryPolicyOf } from "../../../lambdas/domain/job-spec.ts";
import { LIMITS } from "../../../lambdas/domain/limits.ts";
import { TIMELINE_PHASES, type Timeline } from "../../../lambdas/domain/timeline.ts";
import { freshStores, newRecord } from "../stores.ts";

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/**
 * A spec at every whole-spec limit at once: retry rules of one-digit exit codes (the JSON
 * DynamoDB stores least compactly, and stored twice), the largest env values, and a run
 * script taking whatever is left of the spec's bytes.
 */
const largestSpec = () => {
  const values: number[] = [];
  const rules = () => [{ action: "retry", onExitCodes: { operator: "In", values } }];
  while (jsonBytes(rules()) + 2 <= LIMITS.retryRulesBytes) values.push(1);
  const spec = {
    name: "largest",
    instance: { types: ["local"] },
    run: "",
    env: { A: "a".repeat(LIMITS.envValueChars), B: "b".repeat(LIMITS.envValueChars) },
    retryRules: rules(),
  };
  const parsed = parseJobSpec({ ...spec, run: "x" });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const room = LIMITS.specBytes - jsonBytes(parsed.spec) + 1;
  return { ...spec, run: "x".repeat(room) };
};

describe("the size of a job item", () => {
  it("stays far below DynamoDB's 400 KB with every part of the job at its limit", async () => {
    const input = largestSpec();
    const parsed = parseJobSpec(input);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    expect(jsonBytes(parsed.spec)).toBe(LIMITS.specBytes);
    expect(parseJobSpec({ ...input, run: `${input.run}x` })).toMatchObject({
      ok: false,
      errors: [{ field: "(spec)", message: expect.stringContaining("at most 128 KiB") }],
    });

    const at = "2026-01-01T00:00:00.000+00:00";
    const timeline: Timeline = Object.fromEntries(
      TIMELINE_PHASES.map((phase) => [phase, { startedAt: at, endedAt: at }]),
    );
    const record = newRecord(
      { id: "largest", retryPolicy: retryPolicyOf(parsed.spec) },
      { spec: parsed.spec, timeline },
    );
    expect(await stores.jobs.submit({ record })).toMatchObject({ ok: true });
    expect(await stores.jobs.setTaskToken("largest", "t".repeat(2048))).toEqual({ ok: true });
    const endpoint = `http://${"e".repeat(LIMITS.urlChars - 8)}`;
    expect(await stores.jobs.setEndpoint("largest", endpoint)).toEqual({ ok: true });

    const { Item } = await stores.client.send(
      new GetCommand({ TableName: stores.tableName, Key: keys.job("largest") }),
    );
    expect(jsonBytes(Item)).toBeLessThan(200_000);
    expect((await stores.jobs.get("largest"))?.spec).toEqual(parsed.spec);
  });
});
