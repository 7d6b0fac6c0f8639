import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { DynamoInstanceStore } from "../dynamodb/instance-store.ts";
import { DynamoJobStore } from "../dynamodb/job-store.ts";
import { DynamoPoolStats } from "../dynamodb/pool-stats.ts";
import { DynamoUserStore } from "../dynamodb/user-store.ts";
import type { Environment } from "../environment.ts";
import { type Builder, builder, once } from "./builder.ts";

/** One client for the four stores. */
const table = /* @__PURE__ */ once((environment: Environment<"table">) => ({
  client: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }),
  tableName: environment.table.TABLE_NAME,
}));

export const jobs: Builder<ControlPlane["jobs"]> = /* @__PURE__ */ builder(
  ["table"],
  (environment) => new DynamoJobStore(table(environment)),
);

export const instances: Builder<ControlPlane["instances"]> = /* @__PURE__ */ builder(
  ["table"],
  (environment) => new DynamoInstanceStore(table(environment)),
);

export const pools: Builder<ControlPlane["pools"]> = /* @__PURE__ */ builder(
  ["table"],
  (environment) => new DynamoPoolStats(table(environment)),
);

export const users: Builder<ControlPlane["users"]> = /* @__PURE__ */ builder(
  ["table"],
  (environment) => new DynamoUserStore(table(environment)),
);
