import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MODELARTS_CODES } from "../../../lambdas/domain/dialects/modelarts.ts";
import { RUNAI_TABLE } from "../../../lambdas/domain/dialects/runai.ts";
import { aibroInstanceStatus } from "../../../lambdas/domain/instance.ts";
import { recordDialects } from "../../../lambdas/domain/job-record.ts";
import { dialectRows, reachableInstances, UNREADABLE } from "../../../lambdas/domain/reachable.ts";

const SEEDS = join(import.meta.dirname, "../../fixtures/seeds");
const seed = (name: string) => readFileSync(join(SEEDS, name), "utf8");
const rows = dialectRows();

const cellsOf = (line: string) =>
  line
    .split("|")
    .slice(1, -1)
    .map((cell) => cell.trim());

/** The body rows of the markdown table whose header row begins with `headers`. */
const markdownTable = (text: string, ...headers: string[]): string[][] => {
  const lines = text.split("\n");
  const start = lines.findIndex((line) =>
    headers.every((header, i) => cellsOf(line)[i] === header),
  );
  const body = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    if (!line.startsWith("| ---")) body.push(cellsOf(line));
  }
  return body;
};

// One page calls the gear-up substatus "GEARING ENV"; gpuctl serves the other pages' "GEARING UP ENV".
const aibroName = (name: string) => (name === "GEARING ENV" ? "GEARING UP ENV" : name);

describe("AIbro conformance", () => {
  const aibroFiles = readdirSync(SEEDS).filter((file) => file.startsWith("aibro"));
  const produced = new Set(rows.map(({ aibro }) => `${aibro.status} / ${aibro.substatus}`));

  for (const file of aibroFiles) {
    const map = markdownTable(seed(file), "Job Status", "Job Substatus");
    it(`produces every job status/substatus pair of the map in ${file}`, () => {
      expect(map.length).toBeGreaterThanOrEqual(8);
      for (const [status, substatus] of map)
        expect(produced).toContain(`${status} / ${aibroName(substatus ?? "")}`);
    });
  }

  it("produces every job status and substatus listed", () => {
    const text = seed("aibro-inference-status.md");
    const statuses = markdownTable(text, "Job Status", "Description").map(([name]) => name);
    const substatuses = markdownTable(text, "Job Substatus", "Description").map(([name]) => name);
    expect(statuses).toHaveLength(4);
    expect(substatuses).toHaveLength(8);
    expect(new Set(rows.map((row) => row.aibro.status))).toEqual(new Set(statuses));
    expect(new Set(rows.map((row) => row.aibro.substatus))).toEqual(new Set(substatuses));
  });

  it("produces every instance status and substatus listed", () => {
    const text = seed("aibro-inference-status.md");
    const statuses = markdownTable(text, "Instance Status", "Description").map(([name]) => name);
    const substatuses = markdownTable(text, "Instance Substatus", "Description").flatMap(
      ([names]) => names?.split("/") ?? [],
    );
    const instances = reachableInstances().map(aibroInstanceStatus);
    expect(new Set(instances.map((instance) => instance.status))).toEqual(new Set(statuses));
    const producedSubstatuses = new Set(instances.map((instance) => instance.substatus));
    for (const substatus of [...substatuses, "COOLING"])
      expect(producedSubstatuses).toContain(substatus);
  });
});

/** Run:ai's HTML status tables: name, end state, resource allocation and colour per row. */
const runaiRows = () => {
  const text = seed("runai-job-statuses.md");
  const colors = new Map(
    [...text.matchAll(/td\.(td\d+) \{[^}]*background-color: (#[0-9a-f]{6})/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );
  const decode = (html: string) =>
    html
      .replace(/<[^>]+>/g, "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/Â/g, "")
      .trim();
  return text
    .split("<tr>")
    .slice(1)
    .map((tr) => [...tr.matchAll(/<td[^>]*class="(td\d+)">([\s\S]*?)<\/td>/g)])
    .filter((cells) => cells.length === 5 && decode(cells[0]?.[2] ?? "") !== "Status")
    .flatMap((cells) => {
      const [name, endState, allocation] = cells.map((cell) => decode(cell[2] ?? ""));
      return (name ?? "").split(", ").map((status) => ({
        status: status.replace("<number A>", "<A>").replace("<number B>", "<B>"),
        endState: endState === "Yes",
        allocation: allocation ?? "",
        color: colors.get(cells[4]?.[1] ?? ""),
      }));
    });
};

describe("Run:ai conformance", () => {
  const table = runaiRows();

  it("reads all 19 statuses of both tables", () => {
    expect(table).toHaveLength(19);
  });

  it("serves each status's end state, resource allocation and colour from the table", () => {
    for (const row of table) {
      const served = RUNAI_TABLE[row.status as keyof typeof RUNAI_TABLE];
      expect(served, row.status).toBeDefined();
      expect(served.endState, row.status).toBe(row.endState);
      expect(served.color, row.status).toBe(row.color);
      const allocation =
        row.allocation === "Yes"
          ? true
          : row.allocation.startsWith("Yes for interactive")
            ? "interactive only"
            : false;
      expect(served.resourceAllocation, row.status).toBe(allocation);
    }
  });

  it("produces every status from some reachable job", () => {
    const produced = new Set(
      rows.map((row) => row.runai.status.replace(/^Init:\d+\/\d+$/, "Init:<A>/<B>")),
    );
    for (const { status } of table) expect(produced).toContain(status);
  });
});

describe("ModelArts conformance", () => {
  const listed = [
    ...seed("modelarts-job-statuses.rst").matchAll(/\| (\d+)\s+\| (JOBSTAT_\w+):/g),
  ].map(([, code, name]) => [Number(code), name] as const);

  it("names codes 0 to 21 as the docs do, and 22 as the newer docs add it", () => {
    expect(listed).toHaveLength(22);
    expect(Object.entries(MODELARTS_CODES).map(([code, name]) => [Number(code), name])).toEqual([
      ...listed,
      [22, "JOBSTAT_MOUNT_FAILED"],
    ]);
  });

  it("produces 1 to 22 from reachable jobs, and 0 only for a record it cannot read", () => {
    const produced = new Set(
      rows.filter((row) => row.phase !== UNREADABLE).map((row) => row.modelarts.code),
    );
    expect([...produced].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 22 }, (_, i) => i + 1),
    );
    expect(recordDialects({ id: "j", phase: "WARMING_UP" }).modelarts).toEqual({
      code: 0,
      name: "JOBSTAT_UNKNOWN",
    });
  });
});
