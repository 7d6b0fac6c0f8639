import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import type { JobSpec } from "../../../lambdas/domain/job-spec.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { submitJob } from "../../../lambdas/use-cases/submit-job.ts";
import { freshStores, newRecord } from "../stores.ts";

const AT = "2026-01-01T00:00:00.000Z";

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeEach(async () => {
  stores = await freshStores();
});

/** An installation with no spot and a one-hour cap on cooling, whose workflows record their starts. */
const strictInstallation = (starts: unknown[]) =>
  ({
    ...stores.at(AT),
    compute: { instanceTypes: async () => ["local"] },
    artifacts: { inputStored: async () => true },
    workflows: { start: async (...args: unknown[]) => void starts.push(args) },
    settings: {
      costModel: DEFAULT_COST_MODEL,
      cooling: { defaultWarmS: 180, maxWarmS: 3600 },
      spotAllowed: false,
    },
  }) as unknown as ControlPlane;

const specWith = (change: (spec: JobSpec) => JobSpec) => change(newRecord({ id: "refused" }).spec);

describe("a submit the installation refuses", () => {
  it.each([
    [
      "spot where spot is not allowed",
      specWith((spec) => ({ ...spec, instance: { ...spec.instance, spot: true } })),
      "instance.spot",
    ],
    [
      "a cooling period beyond the cap",
      specWith((spec) => ({ ...spec, coolingPeriodS: 3601 })),
      "coolingPeriodS",
    ],
  ])(
    "%s is refused naming the field, and writes, starts and publishes nothing",
    async (_, spec, field) => {
      const starts: unknown[] = [];
      const cp = strictInstallation(starts);
      const idempotency = { key: `key-${field}`, requestHash: field };

      const refused = await submitJob(cp, { spec, owner: "ada", idempotency });

      expect(refused).toMatchObject({
        ok: false,
        error: "VALIDATION",
        fields: [{ field, message: expect.stringContaining("this installation") }],
      });
      const { Items = [] } = await stores.client.send(
        new ScanCommand({ TableName: stores.tableName }),
      );
      expect(Items).toEqual([]);
      expect(starts).toEqual([]);
      expect(stores.published).toEqual([]);
      expect(stores.metrics.points).toEqual([]);
      // The key was not taken either: the same key with a spec the installation allows creates the job.
      const allowed = await submitJob(cp, {
        spec: newRecord({ id: "allowed" }).spec,
        owner: "ada",
        idempotency,
      });
      expect(allowed).toMatchObject({ ok: true, replayed: false });
    },
  );
});
