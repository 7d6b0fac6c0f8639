/**
 * Regenerates the tables in docs/, the OpenAPI document and the client types generated from
 * it, from the code that serves them, so they cannot drift. `--check` changes nothing and
 * fails when a file is stale (CI runs it).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import { instanceDialectTable, jobDialectTable, renderMarkdown } from "../bin/cli/dialect-table.ts";
import { formatLimit, LIMIT_DESCRIPTIONS, LIMITS, type Limit } from "../lambdas/domain/limits.ts";
import { METRIC_NAMES, METRICS, type MetricDefinition } from "../lambdas/domain/metrics.ts";
import { dialectRows } from "../lambdas/domain/reachable.ts";
import { TRANSITIONS } from "../lambdas/domain/transitions.ts";
import { openApiDocument } from "../lambdas/handlers/api/openapi-document.ts";
import { LAMBDA_ENTRIES, type LambdaName } from "../lambdas/handlers/lambda/entries.ts";
import { environmentKinds, handlerNeeds, variableNames } from "../lib/constructs/functions.ts";

const transitionTable = () =>
  renderMarkdown({
    headers: ["event", "from", "to", "refused when"],
    rows: TRANSITIONS.map((rule) => [
      rule.event,
      rule.from.join(", "),
      rule.to.join(" or "),
      rule.guard?.refusal ?? "",
    ]),
  });

const limitTable = () =>
  renderMarkdown({
    headers: ["what", "at most"],
    rows: (Object.keys(LIMITS) as Limit[]).map((limit) => [
      LIMIT_DESCRIPTIONS[limit],
      formatLimit(limit),
    ]),
  });

const metricTable = () =>
  renderMarkdown({
    headers: ["metric", "unit", "dimensions besides service", "what a point means"],
    rows: METRIC_NAMES.map((name) => {
      const { unit, dimensions, meaning }: MetricDefinition = METRICS[name];
      const dimensionList = Object.entries(dimensions).map(
        ([dimension, values]) => `${dimension} (${values.length} values)`,
      );
      return [name, unit, dimensionList.join(", ") || "none", meaning];
    }),
  });

const functionTable = () =>
  renderMarkdown({
    headers: ["function", "entry", "ports and settings", "variables (besides Lambda's own)"],
    rows: (Object.keys(LAMBDA_ENTRIES) as LambdaName[]).map((name) => {
      const { ports, settings } = handlerNeeds(name);
      return [
        `\`${name}\``,
        `\`${LAMBDA_ENTRIES[name]}\``,
        [...ports, ...settings].join(", "),
        variableNames(environmentKinds(name))
          .filter((variable) => variable !== "AWS_REGION")
          .map((variable) => `\`${variable}\``)
          .join(", "),
      ];
    }),
  });

const GENERATED: Record<string, Record<string, () => string>> = {
  "docs/status-dialects.md": {
    transitions: transitionTable,
    "job-dialects": () => renderMarkdown(jobDialectTable(dialectRows())),
    "instance-dialects": () => renderMarkdown(instanceDialectTable()),
  },
  "docs/api.md": { limits: limitTable },
  "docs/observability.md": { metrics: metricTable },
  "docs/deploy.md": { functions: functionTable },
};

const openApiJson = `${JSON.stringify(openApiDocument(), null, 2)}\n`;

/** The types `openapi-typescript` (a public generator) makes of the document, for `openapi-fetch`. */
const openApiClientTypes = async () =>
  [
    "// Generated from docs/openapi.json by openapi-typescript (`npm run docs`): do not edit.",
    // A field with a default may be left out of a request: the server fills it in.
    astToString(await openapiTS(JSON.parse(openApiJson), { defaultNonNullable: false })),
  ].join("\n");

/** Files generated whole. */
const WHOLE: Record<string, () => string | Promise<string>> = {
  "docs/openapi.json": () => openApiJson,
  "sdk/openapi-types.ts": openApiClientTypes,
};

const root = join(import.meta.dirname, "..");
const check = process.argv.includes("--check");
let stale = 0;

const update = (file: string, current: string, next: string) => {
  if (next === current) return;
  if (check) {
    stale++;
    console.error(`${file} is stale: run \`npm run docs\` and commit the result`);
  } else {
    writeFileSync(join(root, file), next);
    console.log(`wrote ${file}`);
  }
};

for (const [file, generate] of Object.entries(WHOLE)) {
  const path = join(root, file);
  update(file, existsSync(path) ? readFileSync(path, "utf8") : "", await generate());
}

for (const [file, sections] of Object.entries(GENERATED)) {
  const path = join(root, file);
  const current = readFileSync(path, "utf8");
  let next = current;
  for (const [name, render] of Object.entries(sections)) {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = next.indexOf(start);
    const to = next.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${file}: markers ${start} ... ${end} not found`);
    next = `${next.slice(0, from + start.length)}\n${render()}\n${next.slice(to)}`;
  }
  update(file, current, next);
}
process.exitCode = stale ? 1 : 0;
