/** The clock and the settings no AWS service holds. */
import { DEFAULT_COST_MODEL } from "../../../domain/cooling-policy.ts";
import type { ControlPlane, Settings } from "../../../use-cases/control-plane.ts";
import { type Builder, builder } from "./builder.ts";

export const clock: Builder<ControlPlane["clock"]> = /* @__PURE__ */ builder([], () => ({
  now: () => new Date().toISOString(),
}));

export const region: Builder<Settings["region"]> = /* @__PURE__ */ builder(
  ["region"],
  (environment) => environment.region.AWS_REGION,
);

export const costModel: Builder<Settings["costModel"]> = /* @__PURE__ */ builder(
  [],
  () => DEFAULT_COST_MODEL,
);

export const cooling: Builder<Settings["cooling"]> = /* @__PURE__ */ builder(
  ["cooling"],
  (environment) => ({
    defaultWarmS: environment.cooling.COOLING_DEFAULT_S,
    maxWarmS: environment.cooling.COOLING_MAX_S,
  }),
);

export const spotAllowed: Builder<Settings["spotAllowed"]> = /* @__PURE__ */ builder(
  ["spot"],
  (environment) => environment.spot.SPOT_ALLOWED,
);
