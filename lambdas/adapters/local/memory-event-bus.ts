import type { StatusEvent } from "../../domain/status-events.ts";
import type { EventBus } from "../../ports.ts";
import { checkedEvents } from "../aws/eventbridge/entries.ts";

/**
 * EventBridge's envelope, delivered in process: the events are checked as EventBridge's
 * adapter checks them (the schema, the entry limit), then each is handed to each subscriber.
 */
export class MemoryEventBus implements EventBus {
  private readonly subscribers: Array<(event: StatusEvent) => void> = [];

  subscribe(subscriber: (event: StatusEvent) => void): () => void {
    this.subscribers.push(subscriber);
    return () => this.subscribers.splice(this.subscribers.indexOf(subscriber), 1);
  }

  async publish(events: StatusEvent[]): Promise<void> {
    for (const event of checkedEvents(events)) {
      for (const subscriber of this.subscribers) subscriber(event);
    }
  }
}
