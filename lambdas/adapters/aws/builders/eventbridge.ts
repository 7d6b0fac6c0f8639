import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { EventBridgeBus } from "../eventbridge/eventbridge-bus.ts";
import { type Builder, builder } from "./builder.ts";

export const events: Builder<ControlPlane["events"]> = /* @__PURE__ */ builder(
  ["eventBus"],
  ({ eventBus }) =>
    new EventBridgeBus({ client: new EventBridgeClient({}), busName: eventBus.EVENT_BUS_NAME }),
);
