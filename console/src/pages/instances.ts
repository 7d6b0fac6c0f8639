import type { InstanceView, Page as Listed } from "../../../sdk/api-types.ts";
import { costFigure, costText } from "../../../sdk/cost-text.ts";
import { api } from "../api.ts";
import { h, table, time } from "../dom.ts";
import { type Page, refreshWhile } from "../page.ts";
import { jobLink } from "./jobs.ts";

/**
 * The instances the caller may see (their own; an admin's, all), each with its AIbro
 * status, its cooling plan (when it stops, and when it is terminated) and its cost so far.
 */
export const instancesPage = async (page: Page) => {
  const holder = h("div");
  page.main.replaceChildren(h("h1", {}, "Instances"), holder);
  await refreshWhile(page, 5000, async () => {
    const listed = await api<Listed<InstanceView>>("/v1/instances", { signal: page.signal });
    holder.replaceChildren(
      listed.items.length
        ? table(
            [
              "ID",
              "Status",
              "Substatus",
              "Type",
              "Capacity",
              "Job",
              "Cooling until",
              "Stopped until",
              "Updated",
              "Cost",
            ],
            listed.items.map((instance) => [
              h("span", { class: "mono" }, instance.id),
              h("span", { class: "status" }, instance.aibro.status),
              instance.aibro.substatus ?? "",
              instance.instanceType,
              instance.spot ? "spot" : "on-demand",
              instance.jobId ? jobLink(instance.jobId) : "",
              time(instance.coolingUntil),
              time(instance.stoppedUntil),
              time(instance.updatedAt || undefined),
              // The figure; its parts, or why it has none, on hover.
              h("span", { title: costText(instance.cost) }, costFigure(instance.cost)),
            ]),
            { id: "instances" },
          )
        : h("p", { class: "muted" }, "No instances."),
    );
    return listed.items.some((instance) => instance.status !== "CLOSED");
  });
};
