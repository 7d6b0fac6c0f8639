import type { Dialect, JobDialects } from "../../lambdas/domain/dialects/index.ts";
import { type Child, h } from "./dom.ts";

const yesNo = (value: boolean) => (value ? "yes" : "no");

/** A status as Run:ai shows it: its name beside a dot of its table's colour. */
const runaiStatus = (status: JobDialects["runai"]): Child => {
  const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
  // Through the CSSOM, which the policy allows; an invalid colour is simply ignored.
  swatch.style.backgroundColor = status.color;
  return h("span", { class: "status" }, swatch, status.status);
};

/** Each dialect's status columns: their headers, and a job's (or an event's) cells. */
export const STATUS_COLUMNS: Record<
  Dialect,
  { headers: string[]; cells: (dialects: JobDialects) => Child[] }
> = {
  aibro: {
    headers: ["Status", "Substatus"],
    cells: ({ aibro }) => [h("span", { class: "status" }, aibro.status), aibro.substatus],
  },
  runai: {
    headers: ["Status", "End state", "Resources allocated"],
    cells: ({ runai }) => [
      runaiStatus(runai),
      yesNo(runai.endState),
      yesNo(runai.resourceAllocation),
    ],
  },
  modelarts: {
    headers: ["Status", "Code"],
    cells: ({ modelarts }) => [h("span", { class: "status" }, modelarts.name), modelarts.code],
  },
};
