import { setTimeout as sleep } from "node:timers/promises";
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import type { StatusEvent } from "../../../domain/status-events.ts";
import { type EventBus, EventsNotDelivered } from "../../../ports.ts";
import { batches, checkedEvents, toEntry } from "./entries.ts";

/** How the entries PutEvents did not take are tried again: attempts in all, and each wait. */
export interface EntryRetry {
  attempts: number;
  /** Milliseconds to wait before retry `n` (1, 2, ...). */
  delayMs: (n: number) => number;
}

/** Exponential from 100 ms, with jitter so the retries of many callers spread out. */
const DEFAULT_RETRY: EntryRetry = {
  attempts: 5,
  delayMs: (n) => 100 * 2 ** (n - 1) * (0.5 + Math.random() / 2),
};

export interface EventBridgeBusOptions {
  /** Its retry strategy retries a throttled or failed PutEvents call as a whole (the SDK's does). */
  client: EventBridgeClient;
  busName: string;
  retry?: EntryRetry;
}

interface Pending {
  id: string;
  entry: PutEventsRequestEntry;
}

type Undelivered = ConstructorParameters<typeof EventsNotDelivered>[0];

/**
 * The `EventBus` port on EventBridge: PutEvents in batches within its limits, in order,
 * each batch's refused entries (FailedEntryCount) tried again alone until they are taken or
 * the attempts run out; then every event not delivered is named in the error.
 */
export class EventBridgeBus implements EventBus {
  readonly #client: EventBridgeClient;
  readonly #busName: string;
  readonly #retry: EntryRetry;

  constructor(options: EventBridgeBusOptions) {
    this.#client = options.client;
    this.#busName = options.busName;
    this.#retry = options.retry ?? DEFAULT_RETRY;
  }

  async publish(events: StatusEvent[]): Promise<void> {
    const pending = checkedEvents(events).map((event) => ({
      id: event.detail.metadata.id,
      entry: toEntry(event, this.#busName),
    }));
    const undelivered: Undelivered = [];
    const runs = batches(pending);
    for (const [index, run] of runs.entries()) {
      try {
        undelivered.push(...(await this.#put(run)));
      } catch (error) {
        // The call itself failed, after the client's own retries: this run and the rest are not sent.
        const unsent = runs.slice(index).flat();
        undelivered.push(...unsent.map(({ id }) => ({ id, error: String(error) })));
        break;
      }
    }
    if (undelivered.length > 0) throw new EventsNotDelivered(undelivered);
  }

  /** Puts one run, then its refused entries again; returns those still refused. */
  async #put(run: Pending[]): Promise<Undelivered> {
    let pending = run;
    for (let attempt = 1; ; attempt += 1) {
      const { Entries = [] } = await this.#client.send(
        new PutEventsCommand({ Entries: pending.map(({ entry }) => entry) }),
      );
      // Results come in the order of the request's entries; a taken one has an EventId.
      const refused = pending.flatMap(({ id, entry }, index) => {
        const result = Entries[index];
        if (result?.EventId) return [];
        const error = `${result?.ErrorCode ?? "no result"}: ${result?.ErrorMessage ?? ""}`;
        return [{ id, entry, error }];
      });
      if (refused.length === 0) return [];
      if (attempt >= this.#retry.attempts) return refused.map(({ id, error }) => ({ id, error }));
      pending = refused;
      await sleep(this.#retry.delayMs(attempt));
    }
  }
}
