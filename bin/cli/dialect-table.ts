import { aibroInstanceStatus } from "../../lambdas/domain/instance.ts";
import { JOB_KINDS } from "../../lambdas/domain/phases.ts";
import { type DialectRow, reachableInstances } from "../../lambdas/domain/reachable.ts";
import { alignColumns } from "./output.ts";

export interface Table {
  headers: string[];
  rows: string[][];
}

const appliesTo = (group: DialectRow[]): string => {
  const kinds = [...new Set(group.flatMap((row) => (row.kind ? [row.kind] : [])))];
  if (kinds.length === 0) return "any record";
  const nodes = [...new Set(group.map((row) => row.nodes))];
  const who = kinds.length === JOB_KINDS.length ? "any job" : kinds.join(", ");
  return nodes.length === 1 ? `${who} (${nodes[0]}-node)` : who;
};

/**
 * The canonical-to-dialect table for people: rows that differ only in job kind or node
 * count are merged, and "applies to" says which jobs they cover.
 */
export const jobDialectTable = (rows: DialectRow[]): Table => {
  const groups = new Map<string, DialectRow[]>();
  for (const row of rows) {
    const { kind, nodes, ...rest } = row;
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return {
    headers: [
      "phase",
      "applies to",
      "reason",
      "condition",
      "AIbro",
      "Run:ai",
      "end",
      "alloc",
      "color",
      "ModelArts",
    ],
    rows: [...groups.values()].map((group) => {
      const [{ phase, reason, condition, aibro, runai, modelarts }] = group as [DialectRow];
      return [
        phase,
        appliesTo(group),
        reason ?? "",
        condition ?? "",
        `${aibro.status} / ${aibro.substatus}`,
        runai.status,
        runai.endState ? "yes" : "",
        runai.resourceAllocation ? "yes" : "",
        runai.color,
        `${modelarts.code} ${modelarts.name}`,
      ];
    }),
  };
};

/** AIbro's instance status and substatus for every reachable instance state. */
export const instanceDialectTable = (): Table => {
  const seen = new Set<string>();
  const rows = reachableInstances()
    .map((instance) => aibroInstanceStatus(instance))
    .map(({ status, substatus }) => [status, substatus ?? ""])
    .filter((row) => !seen.has(row.join()) && seen.add(row.join()));
  const order = ["LAUNCHING", "EXECUTING", "COOLING", "CLOSING", "CLOSED"];
  rows.sort(
    (a, b) =>
      order.indexOf(a[0] ?? "") - order.indexOf(b[0] ?? "") ||
      (a[1] ?? "").localeCompare(b[1] ?? ""),
  );
  return { headers: ["instance status", "instance substatus"], rows };
};

/** Columns padded to line up in a terminal, under upper-case headers. */
export const renderText = ({ headers, rows }: Table): string =>
  alignColumns([headers.map((header) => header.toUpperCase()), ...rows]);

export const renderMarkdown = ({ headers, rows }: Table): string =>
  [headers, headers.map(() => "---"), ...rows]
    .map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`)
    .join("\n");
