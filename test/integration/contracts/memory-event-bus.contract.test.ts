import { MemoryEventBus } from "../../../lambdas/adapters/local/memory-event-bus.ts";
import type { StatusEvent } from "../../../lambdas/domain/status-events.ts";
import { eventBusContract } from "./event-bus.contract.ts";

eventBusContract(() => {
  const bus = new MemoryEventBus();
  const received: StatusEvent[] = [];
  bus.subscribe((event) => received.push(event));
  return { bus, delivered: () => [...received] };
});
