import { Option } from "commander";
import { terminalText } from "./terminal-text.ts";

export const OUTPUT_FORMATS = ["table", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o, --output table|json`, shared by every command that prints records. */
export const outputOption = (): Option =>
  new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table");

/** Pretty JSON on stdout, for `--output json`. */
export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** A table cell: "-" for a missing value, so every row splits into the same columns. */
export const cell = (value: string | number | undefined): string =>
  value === undefined || value === "" ? "-" : String(value);

/** Time since an ISO-8601 instant, as kubectl shows it: 45s, 12m, 5h, 3d. */
export const age = (iso: string, now: number = Date.now()): string => {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "-";
  const seconds = Math.max(0, Math.floor((now - then) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
};

/** Time until an ISO-8601 instant, as `age` shows it; "now" once it has passed. */
export const until = (iso: string | undefined, now: number = Date.now()): string => {
  if (iso === undefined) return "-";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "-";
  return then <= now ? "now" : age(new Date(now).toISOString(), then);
};

/** HH:MM:SS in local time. */
export const clock = (date: Date = new Date()): string =>
  [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");

/**
 * Rows padded into columns two spaces apart, without trailing blanks. Every table and
 * summary is drawn here, of text other users wrote among it (a replay's description, a
 * job's name): each value is shown as a terminal may show it, on one line.
 */
export const alignColumns = (table: string[][]): string => {
  const rows = table.map((row) => row.map((value) => terminalText(value)));
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((value, column) => value.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
};
