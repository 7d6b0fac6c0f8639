import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  entryBytes,
  MAX_ENTRY_BYTES,
  toEntry,
} from "../../../../../lambdas/adapters/aws/eventbridge/entries.ts";
import { EventBridgeBus } from "../../../../../lambdas/adapters/aws/eventbridge/eventbridge-bus.ts";
import type { StatusEvent } from "../../../../../lambdas/domain/status-events.ts";
import { EventsNotDelivered, PayloadTooLarge } from "../../../../../lambdas/ports.ts";
import { answering, OFFLINE, THROTTLED } from "../../../../fixtures/aws-service.ts";
import { instanceEvent } from "../../../../fixtures/status-events.ts";
import { rejection } from "../../../../integration/workflows/harness.ts";

const BUS = "gpuctl-events";
const client = new EventBridgeClient(OFFLINE);
const events = mockClient(client);
const delays: number[] = [];
const bus = new EventBridgeBus({
  client,
  busName: BUS,
  retry: {
    attempts: 3,
    delayMs: (n) => {
      delays.push(n);
      return 0;
    },
  },
});

/** Each PutEvents call's entries, by their events' ids. */
const calls = () =>
  events
    .commandCalls(PutEventsCommand)
    .map((call) =>
      (call.args[0].input.Entries ?? []).map((entry) => JSON.parse(entry.Detail ?? "").metadata.id),
    );

const taken = (entries: PutEventsRequestEntry[] | undefined) => ({
  FailedEntryCount: 0,
  Entries: (entries ?? []).map((_, index) => ({ EventId: `e-${index}` })),
});

/** An event whose entry is exactly `bytes` long, as EventBridge counts it. */
const eventOfSize = (n: number, bytes: number): StatusEvent => {
  const base = entryBytes(toEntry(instanceEvent(n, ""), BUS));
  return instanceEvent(n, "c".repeat(bytes - base));
};

beforeEach(() => {
  events.reset();
  events.on(PutEventsCommand).callsFake((input) => taken(input.Entries));
  delays.length = 0;
});

describe("EventBridgeBus", () => {
  it("puts each event on the bus in the envelope, its change's time as the event's", async () => {
    const event = instanceEvent(1);

    await bus.publish([event]);

    expect(events).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: BUS,
          Source: "gpuctl",
          DetailType: "Instance Status Changed",
          Detail: JSON.stringify(event.detail),
          Time: new Date("2026-01-01T00:00:00.000Z"),
        },
      ],
    });
  });

  it("counts an entry's bytes as EventBridge does: its texts in UTF-8, 14 for its Time", () => {
    const entry = { Source: "gpuctl", DetailType: "Job Status Changed", Detail: '{"a":"é"}' };

    expect(entryBytes(entry)).toBe(6 + 18 + 10);
    expect(entryBytes({ ...entry, Resources: ["arn:x"], Time: new Date() })).toBe(
      6 + 18 + 10 + 5 + 14,
    );
  });

  it("puts at most 10 entries a call, in order", async () => {
    await bus.publish(Array.from({ length: 25 }, (_, n) => instanceEvent(n)));

    const ids = calls();
    expect(ids.map((call) => call.length)).toEqual([10, 10, 5]);
    expect(ids.flat()).toEqual(Array.from({ length: 25 }, (_, n) => `instance/gi-1/${n}`));
  });

  it("puts at most 256 KB a call", async () => {
    const half = MAX_ENTRY_BYTES / 2;
    await bus.publish([eventOfSize(1, half), eventOfSize(2, half), eventOfSize(3, 1000)]);

    expect(calls()).toEqual([["instance/gi-1/1", "instance/gi-1/2"], ["instance/gi-1/3"]]);
  });

  it("puts an event of exactly 256 KB alone, and refuses one a byte larger before putting any", async () => {
    await bus.publish([eventOfSize(1, MAX_ENTRY_BYTES)]);
    expect(calls()).toEqual([["instance/gi-1/1"]]);

    const refused = await rejection(
      bus.publish([instanceEvent(2), eventOfSize(3, MAX_ENTRY_BYTES + 1)]),
    );

    expect(refused).toBeInstanceOf(PayloadTooLarge);
    expect(refused).toMatchObject({ field: "events[1]" });
    expect(String(refused)).toContain("instance/gi-1/3 is 262145 bytes");
    expect(calls()).toHaveLength(1);
  });

  it("refuses an event outside the schema before putting any", async () => {
    const bad = { ...instanceEvent(2), source: "someone-else" } as unknown as StatusEvent;

    expect(await rejection(bus.publish([instanceEvent(1), bad]))).toMatchObject({
      name: "ZodError",
    });
    expect(calls()).toEqual([]);
  });

  it("puts nothing for no events", async () => {
    await bus.publish([]);
    expect(calls()).toEqual([]);
  });

  it("tries again the entries PutEvents refused, alone, with backoff", async () => {
    events
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: "e-0" },
          { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
          { ErrorCode: "InternalFailure", ErrorMessage: "oops" },
        ],
      })
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: "InternalFailure", ErrorMessage: "oops" }, { EventId: "e-2" }],
      })
      .callsFake((input) => taken(input.Entries));

    await bus.publish([instanceEvent(0), instanceEvent(1), instanceEvent(2)]);

    expect(calls()).toEqual([
      ["instance/gi-1/0", "instance/gi-1/1", "instance/gi-1/2"],
      ["instance/gi-1/1", "instance/gi-1/2"],
      ["instance/gi-1/1"],
    ]);
    expect(delays).toEqual([1, 2]);
  });

  it("names each event still refused after the attempts, having delivered the others", async () => {
    events.on(PutEventsCommand).callsFake((input) => {
      const entries: PutEventsResultEntry[] = (input.Entries ?? []).map(
        (entry: PutEventsRequestEntry) =>
          entry.Detail?.includes('"version":3,')
            ? { ErrorCode: "MalformedDetail", ErrorMessage: "no" }
            : { EventId: "e" },
      );
      return {
        FailedEntryCount: entries.filter((entry) => entry.ErrorCode).length,
        Entries: entries,
      };
    });

    const refused = await rejection(
      bus.publish(Array.from({ length: 12 }, (_, n) => instanceEvent(n))),
    );

    expect(refused).toBeInstanceOf(EventsNotDelivered);
    expect(refused).toMatchObject({
      undelivered: [{ id: "instance/gi-1/3", error: "MalformedDetail: no" }],
    });
    expect(String(refused)).toContain("instance/gi-1/3 (MalformedDetail: no)");
    expect(calls().map((call) => call.length)).toEqual([10, 1, 1, 2]);
  });

  it("names the events of the call that failed and of those after it", async () => {
    events
      .on(PutEventsCommand)
      .callsFakeOnce((input) => taken(input.Entries))
      .rejectsOnce(
        new EventBridgeServiceException({
          name: "InternalException",
          $fault: "server",
          $metadata: {},
          message: "down",
        }),
      );

    const refused = await rejection(
      bus.publish(Array.from({ length: 25 }, (_, n) => instanceEvent(n))),
    );

    expect(refused).toBeInstanceOf(EventsNotDelivered);
    expect((refused as EventsNotDelivered).undelivered.map(({ id }) => id)).toEqual(
      Array.from({ length: 15 }, (_, n) => `instance/gi-1/${n + 10}`),
    );
    expect(calls()).toHaveLength(2);
  });

  it("lets the SDK retry a throttled call with backoff (a fake HTTP handler under a real client)", async () => {
    const taken = { status: 200, body: { FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] } };
    const service = answering([THROTTLED, taken]);
    const real = new EventBridgeBus({
      client: new EventBridgeClient(service.config),
      busName: BUS,
    });

    await real.publish([instanceEvent(1)]);

    expect(service.targets).toEqual(Array(2).fill("AWSEvents.PutEvents"));
    expect(service.backoffs).toEqual([1]);
  });
});
