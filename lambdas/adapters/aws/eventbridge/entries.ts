import type { PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { StatusEvent } from "../../../domain/status-events.ts";
import { PayloadTooLarge } from "../../../ports.ts";

/** EventBridge's limit on one entry, and on the entries of one PutEvents together. */
export const MAX_ENTRY_BYTES = 256 * 1024;
export const MAX_ENTRIES_PER_PUT = 10;

/** The bytes EventBridge counts for an entry: its texts in UTF-8, and 14 for a Time. */
export function entryBytes(entry: PutEventsRequestEntry): number {
  const texts = [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])];
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text ?? "", "utf8"), 0);
  return bytes + (entry.Time ? 14 : 0);
}

/** The event as a PutEvents entry: the envelope's fields, and the change's time as the event's. */
export function toEntry(event: StatusEvent, busName: string): PutEventsRequestEntry {
  return {
    EventBusName: busName,
    Source: event.source,
    DetailType: event["detail-type"],
    Detail: JSON.stringify(event.detail),
    Time: new Date(event.detail.metadata.time),
  };
}

/**
 * The events as they will be delivered, each checked before any is: of the schema, and
 * within the entry limit (a bus that takes them locally still refuses what EventBridge would).
 */
export function checkedEvents(events: StatusEvent[]): StatusEvent[] {
  const valid = events.map((event) => StatusEvent.parse(event));
  valid.forEach((event, index) => {
    const bytes = entryBytes(toEntry(event, ""));
    if (bytes > MAX_ENTRY_BYTES) {
      throw new PayloadTooLarge(
        `events[${index}]`,
        `event ${event.detail.metadata.id} is ${bytes} bytes as EventBridge counts them, over the ${MAX_ENTRY_BYTES}-byte limit of an entry`,
      );
    }
  });
  return valid;
}

/** Consecutive runs of the entries, in order, each within PutEvents' count and size limits. */
export function batches<T extends { entry: PutEventsRequestEntry }>(items: T[]): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let runBytes = 0;
  for (const item of items) {
    const bytes = entryBytes(item.entry);
    if (
      run.length === MAX_ENTRIES_PER_PUT ||
      (run.length > 0 && runBytes + bytes > MAX_ENTRY_BYTES)
    ) {
      runs.push(run);
      run = [];
      runBytes = 0;
    }
    run.push(item);
    runBytes += bytes;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
