import type { TimelinePeriod } from "../../lambdas/domain/timeline.ts";
import { h, table, time } from "./dom.ts";

/** A job's timeline periods, as `GET /v1/jobs/{id}/timeline` gives them. */
export const timelineView = (periods: TimelinePeriod[]) =>
  periods.length
    ? table(
        ["Period", "Started", "Ended", "Seconds"],
        periods.map((period) => [
          period.phase,
          time(period.startedAt),
          period.endedAt ? time(period.endedAt) : "running",
          period.seconds.toFixed(1),
        ]),
      )
    : h("p", { class: "muted" }, "No periods yet.");
