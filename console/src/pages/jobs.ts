import type { JobView, Page as Listed } from "../../../sdk/api-types.ts";
import { api } from "../api.ts";
import { fill, h, table, time } from "../dom.ts";
import { type Page, refreshWhile } from "../page.ts";
import { STATUS_COLUMNS } from "../status.ts";

const PAGE_SIZE = 50;

export const jobLink = (id: string) => h("a", { href: `#/jobs/${encodeURIComponent(id)}` }, id);

/** The canonical phase with its reason, which every dialect shows: AIbro's, for one, has no FAILED. */
const phaseWithReason = (job: JobView) => (job.reason ? `${job.phase} (${job.reason})` : job.phase);

const jobsTable = (jobs: JobView[], page: Page) => {
  const status = STATUS_COLUMNS[page.dialect];
  return table(
    ["ID", "Name", "Kind", ...status.headers, "Phase", "Created", "Updated"],
    jobs.map((job) => [
      jobLink(job.id),
      job.name,
      job.kind,
      ...status.cells(job.dialects),
      phaseWithReason(job),
      time(job.createdAt),
      time(job.updatedAt),
    ]),
    { id: "jobs" },
  );
};

/**
 * The caller's jobs, newest first, in the chosen dialect; refreshed while one of them still
 * moves. `after` is the cursor of an older page.
 */
export const jobsPage = async (page: Page, after?: string) => {
  const holder = h("div");
  page.main.replaceChildren(h("h1", {}, "Jobs"), holder);
  const query = new URLSearchParams({
    limit: String(PAGE_SIZE),
    ...(after ? { cursor: after } : {}),
  });
  await refreshWhile(page, 3000, async () => {
    const listed = await api<Listed<JobView>>(`/v1/jobs?${query}`, { signal: page.signal });
    fill(
      holder,
      listed.items.length
        ? jobsTable(listed.items, page)
        : h("p", { class: "muted" }, "No jobs yet: submit one with `gpuctl submit -f job.yaml`."),
      listed.cursor
        ? h(
            "p",
            {},
            h("a", { href: `#/jobs?after=${encodeURIComponent(listed.cursor)}` }, "Older jobs"),
          )
        : null,
    );
    return listed.items.some((job) => !job.terminal);
  });
};
