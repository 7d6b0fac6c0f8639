import type {
  JobEventView,
  JobView,
  Page as Listed,
  TimelineView,
} from "../../../sdk/api-types.ts";
import { costText } from "../../../sdk/cost-text.ts";
import { api } from "../api.ts";
import { type Child, h, table, time } from "../dom.ts";
import { logPanel } from "../logs.ts";
import { type Page, refreshWhile } from "../page.ts";
import { STATUS_COLUMNS } from "../status.ts";
import { timelineView } from "../timeline.ts";

const facts = (pairs: Array<[string, Child]>) =>
  h(
    "dl",
    { class: "facts" },
    ...pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );

const summary = (job: JobView, page: Page) => {
  const status = STATUS_COLUMNS[page.dialect];
  const cells = status.cells(job.dialects);
  return facts([
    ...status.headers.map((header, index): [string, Child] => [header, cells[index]]),
    ["ID", h("span", { class: "mono" }, job.id)],
    ["Kind", job.kind],
    ["Phase", job.phase],
    ["Reason", job.reason ?? ""],
    ["Attempt", job.attempt],
    ["Exit code", job.exitCode ?? ""],
    ["Workers ready", `${job.workersReady} of ${job.workersTotal}`],
    ["Instance", job.instanceId ?? ""],
    ["Cost", job.cost ? costText(job.cost) : ""],
    ["Created", time(job.createdAt)],
    ["Updated", time(job.updatedAt)],
  ]);
};

const eventsTable = (events: JobEventView[], page: Page) => {
  const status = STATUS_COLUMNS[page.dialect];
  return table(
    ["Time", "Event", "Phase", "Reason", "By", ...status.headers],
    events.map((event) => [
      time(event.at),
      event.type,
      event.from ? `${event.from} → ${event.phase}` : event.phase,
      event.reason ?? "",
      event.by?.email ?? "control plane",
      ...status.cells(event.dialects),
    ]),
    { id: "events" },
  );
};

/**
 * One job: its status in the chosen dialect, its timeline, its events and its logs,
 * refreshed every two seconds until it ends.
 */
export const jobPage = async (page: Page, jobId: string) => {
  const title = h("h1", {}, jobId);
  const status = h("section", { id: "status" });
  const timeline = h("section", { id: "timeline" });
  const events = h("section", { id: "events-section" });
  const logs = logPanel(jobId);
  page.main.replaceChildren(
    h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")),
    title,
    status,
    timeline,
    events,
    logs.element,
  );
  const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
  const { signal } = page;
  await refreshWhile(page, 2000, async () => {
    const [job, history, periods] = await Promise.all([
      api<JobView>(path, { signal }),
      api<Listed<JobEventView>>(`${path}/events`, { signal }),
      api<TimelineView>(`${path}/timeline`, { signal }),
    ]);
    title.textContent = job.name;
    status.replaceChildren(summary(job, page));
    timeline.replaceChildren(h("h2", {}, "Timeline"), timelineView(periods.periods));
    events.replaceChildren(h("h2", {}, "Events"), eventsTable(history.items, page));
    await logs.update(signal);
    return !job.terminal;
  });
};
