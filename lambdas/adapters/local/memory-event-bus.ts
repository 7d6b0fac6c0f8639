import { StatusEvent } from "../../domain/status-events.ts";
import type { EventBus } from "../../ports.ts";

/** EventBridge's envelope, delivered in process: every event is validated, then handed to each subscriber. */
export class MemoryEventBus implements EventBus {
  private readonly subscribers: Array<(event: StatusEvent) => void> = [];

  subscribe(subscriber: (event: StatusEvent) => void): () => void {
    this.subscribers.push(subscriber);
    return () => this.subscribers.splice(this.subscribers.indexOf(subscriber), 1);
  }

  async publish(events: StatusEvent[]): Promise<void> {
    for (const event of events) {
      const valid = StatusEvent.parse(event);
      for (const subscriber of this.subscribers) subscriber(valid);
    }
  }
}
