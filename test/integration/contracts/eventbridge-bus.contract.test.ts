import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EventBridgeBus } from "../../../lambdas/adapters/aws/eventbridge/eventbridge-bus.ts";
import { OFFLINE } from "../../fixtures/aws-service.ts";
import { eventBusContract } from "./event-bus.contract.ts";
import { fakeEventBridge } from "./fake-eventbridge.ts";

eventBusContract(() => {
  const client = new EventBridgeClient(OFFLINE);
  const service = fakeEventBridge(client, "gpuctl-events");
  const retry = { attempts: 3, delayMs: () => 0 };
  return { bus: new EventBridgeBus({ client, busName: "gpuctl-events", retry }), ...service };
});
