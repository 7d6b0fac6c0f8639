import {
  type EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import {
  entryBytes,
  MAX_ENTRIES_PER_PUT,
  MAX_ENTRY_BYTES,
} from "../../../lambdas/adapters/aws/eventbridge/entries.ts";
import type { StatusEvent } from "../../../lambdas/domain/status-events.ts";

const refuse = (message: string) =>
  new EventBridgeServiceException({
    name: "ValidationException",
    $fault: "client",
    $metadata: {},
    message,
  });

/**
 * EventBridge's PutEvents behind aws-sdk-client-mock: refuses a call over its limits, as the
 * service does, and refuses each entry's first try with InternalFailure (its refused entries
 * are the caller's to put again), so only an adapter that retries delivers anything.
 */
export const fakeEventBridge = (client: EventBridgeClient, busName: string) => {
  const received: StatusEvent[] = [];
  const tried = new Set<string>();
  mockClient(client)
    .on(PutEventsCommand)
    .callsFake(({ Entries = [] }: { Entries?: PutEventsRequestEntry[] }) => {
      if (Entries.length > MAX_ENTRIES_PER_PUT) throw refuse(`${Entries.length} entries`);
      const bytes = Entries.reduce((sum, entry) => sum + entryBytes(entry), 0);
      if (bytes > MAX_ENTRY_BYTES) throw refuse(`${bytes} bytes`);
      const results = Entries.map((entry) => {
        if (entry.EventBusName !== busName) throw refuse(`no bus ${entry.EventBusName}`);
        const detail = String(entry.Detail);
        if (!tried.has(detail)) {
          tried.add(detail);
          return { ErrorCode: "InternalFailure", ErrorMessage: "try again" };
        }
        received.push({
          source: entry.Source,
          "detail-type": entry.DetailType,
          detail: JSON.parse(detail),
        } as StatusEvent);
        return { EventId: `e-${received.length}` };
      });
      const failed = results.filter((result) => "ErrorCode" in result).length;
      return { FailedEntryCount: failed, Entries: results };
    });
  return { delivered: () => [...received] };
};
