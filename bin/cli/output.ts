import { Option } from "commander";

export const OUTPUT_FORMATS = ["table", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o, --output table|json`, shared by every command that prints records. */
export const outputOption = (): Option =>
  new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table");
