import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { EmfMetrics } from "../cloudwatch/emf-metrics.ts";
import { type Builder, builder } from "./builder.ts";

/** Metrics go to the function's log: no client, no permission beyond writing logs. */
export const metrics: Builder<ControlPlane["metrics"]> = /* @__PURE__ */ builder(
  [],
  () => new EmfMetrics(),
);
