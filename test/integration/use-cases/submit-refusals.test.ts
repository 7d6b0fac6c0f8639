import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import type { JobSpecInput } from "../../../lambdas/domain/job-spec.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores } from "../stores.ts";
import { testUsers } from "../users.ts";

const AT = "2026-01-01T00:00:00.000Z";

let stores: Awaited<ReturnType<typeof freshStores>>;
let adaToken: string;
beforeEach(async () => {
  stores = await freshStores();
  adaToken = (await testUsers(stores.at(AT)).add("ada@example.org")).token;
});

const tableItems = async () =>
  (await stores.client.send(new ScanCommand({ TableName: stores.tableName }))).Items ?? [];

/**
 * The API of an installation with no spot and a one-hour cap on cooling, on a fresh table,
 * whose workflows record their starts.
 */
const strictApi = (starts: unknown[]) =>
  createApi(
    {
      ...stores.at(AT),
      compute: { instanceTypes: async () => ["g5.xlarge"] },
      artifacts: { inputStored: async () => true },
      workflows: { start: async (...args: unknown[]) => void starts.push(args) },
      settings: {
        costModel: DEFAULT_COST_MODEL,
        cooling: { defaultWarmS: 180, maxWarmS: 3600 },
        spotAllowed: false,
      },
    } as unknown as ControlPlane,
    {},
  );

const submit = (api: ReturnType<typeof createApi>, spec: JobSpecInput, key: string) =>
  api.request("/v1/jobs", {
    method: "POST",
    headers: { authorization: `Bearer ${adaToken}`, "idempotency-key": key },
    body: JSON.stringify(spec),
  });

const spec = (fields: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: "train",
  instance: { types: ["g5.xlarge"] },
  run: "python3 train.py",
  ...fields,
});

describe("a submit the installation refuses", () => {
  it.each([
    [
      "spot where spot is not allowed",
      spec({ instance: { types: ["g5.xlarge"], spot: true } }),
      "instance.spot",
      /not allowed in this installation/,
    ],
    [
      "a cooling period beyond the cap",
      spec({ coolingPeriodS: 3601 }),
      "coolingPeriodS",
      /at most 3600 s/,
    ],
  ])(
    "%s is a 400 naming the field, and writes, starts and publishes nothing",
    async (_, refusedSpec, field, message) => {
      const starts: unknown[] = [];
      const api = strictApi(starts);
      const before = await tableItems();

      const refused = await submit(api, refusedSpec, `key-${field}`);

      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: { code: "VALIDATION", fields: [{ field, message: expect.stringMatching(message) }] },
      });
      expect(await tableItems()).toEqual(before);
      expect(starts).toEqual([]);
      expect(stores.published).toEqual([]);
      expect(stores.metrics.points).toEqual([]);
      // Nor was the key taken: the same key with a spec the installation allows creates the job.
      const allowed = await submit(api, spec(), `key-${field}`);
      expect(allowed.status).toBe(201);
    },
  );
});
