import { describe, expect, it } from "vitest";
import type { StatusEvent } from "../../../lambdas/domain/status-events.ts";
import { type EventBus, PayloadTooLarge } from "../../../lambdas/ports.ts";
import { instanceEvent } from "../../fixtures/status-events.ts";
import { rejection } from "../workflows/harness.ts";

export interface EventBusUnderTest {
  bus: EventBus;
  /** Every event its consumers received so far, in the order they received them. */
  delivered(): StatusEvent[];
}

/** What the EventBus port promises, for any adapter: run once per adapter's test file. */
export const eventBusContract = (make: () => EventBusUnderTest) => {
  describe("the EventBus port's contract", () => {
    it("delivers every event published, in order", async () => {
      const { bus, delivered } = make();
      const first = Array.from({ length: 23 }, (_, n) => instanceEvent(n));
      const large = Array.from({ length: 4 }, (_, n) =>
        instanceEvent(100 + n, "c".repeat(100_000)),
      );

      await bus.publish(first);
      await bus.publish(large);
      await bus.publish([]);

      expect(delivered()).toEqual([...first, ...large]);
    });

    it("refuses an event over 256 KB, delivering none of its publish", async () => {
      const { bus, delivered } = make();

      const refused = await rejection(
        bus.publish([instanceEvent(1), instanceEvent(2, "c".repeat(256 * 1024))]),
      );

      expect(refused).toBeInstanceOf(PayloadTooLarge);
      expect(refused).toMatchObject({ field: "events[1]" });
      expect(delivered()).toEqual([]);
    });

    it("refuses an event outside the schema, delivering none of its publish", async () => {
      const { bus, delivered } = make();
      const stray = { ...instanceEvent(2), "detail-type": "Something" } as unknown as StatusEvent;

      expect(await rejection(bus.publish([instanceEvent(1), stray]))).toMatchObject({
        name: "ZodError",
      });
      expect(delivered()).toEqual([]);
    });
  });
};
