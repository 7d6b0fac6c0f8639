import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import type { JobSpecInput } from "../../../lambdas/domain/job-spec.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import { staticTokenUsers } from "../../../lambdas/handlers/api/user-identity.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores } from "../stores.ts";

const AT = "2026-01-01T00:00:00.000Z";

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeEach(async () => {
  stores = await freshStores();
});

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
    { users: staticTokenUsers({ "ada-token": "ada" }) },
  );

const submit = (api: ReturnType<typeof createApi>, spec: JobSpecInput, key: string) =>
  api.request("/v1/jobs", {
    method: "POST",
    headers: { authorization: "Bearer ada-token", "idempotency-key": key },
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

      const refused = await submit(api, refusedSpec, `key-${field}`);

      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: { code: "VALIDATION", fields: [{ field, message: expect.stringMatching(message) }] },
      });
      const { Items = [] } = await stores.client.send(
        new ScanCommand({ TableName: stores.tableName }),
      );
      expect(Items).toEqual([]);
      expect(starts).toEqual([]);
      expect(stores.published).toEqual([]);
      expect(stores.metrics.points).toEqual([]);
      // Nor was the key taken: the same key with a spec the installation allows creates the job.
      const allowed = await submit(api, spec(), `key-${field}`);
      expect(allowed.status).toBe(201);
    },
  );
});
