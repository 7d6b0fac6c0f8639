import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PHASES } from "../../../lambdas/domain/phases.ts";

const GPUCTL = join(import.meta.dirname, "../../../bin/gpuctl.ts");
const gpuctl = (...args: string[]) =>
  execFileSync(process.execPath, [GPUCTL, ...args], { encoding: "utf8" });

describe("gpuctl dialects", () => {
  it("prints every reachable combination as JSON rows", () => {
    const rows = JSON.parse(gpuctl("dialects", "--output", "json")) as Array<
      Record<string, unknown>
    >;
    expect(new Set(rows.map((row) => row.phase))).toEqual(new Set([...PHASES, "UNREADABLE"]));
    // Every code the seeds define appears, 0 UNKNOWN included, on the last row.
    expect(rows.at(-1)).toEqual({
      phase: "UNREADABLE",
      condition: "a stored record this version cannot read",
      aibro: { status: "CANCELED", substatus: "CANCELED" },
      runai: { status: "Unknown", endState: true, resourceAllocation: false, color: "#d0d0d0" },
      modelarts: { code: 0, name: "JOBSTAT_UNKNOWN" },
    });
    expect(rows).toContainEqual({
      phase: "CONNECTING_SERVER",
      kind: "training",
      nodes: "multi",
      condition: "1 of 2 workers registered",
      aibro: { status: "QUEUING", substatus: "CONNECTING SERVER" },
      runai: { status: "Init:1/2", endState: false, resourceAllocation: true, color: "#599b3e" },
      modelarts: { code: 4, name: "JOBSTAT_SUBMIT_TRYING" },
    });
  });

  it("prints a readable table of job and instance statuses", () => {
    const text = gpuctl("dialects");
    expect(text).toMatch(/^PHASE\s+APPLIES TO\s+REASON\s+CONDITION\s+AIBRO\s+RUN:AI/);
    expect(text).toMatch(
      /\nCANCELING\s+any job\s+DELETE_FAILED\s+CANCELED \/ CANCELED\s+Terminating.*6 JOBSTAT_DELETE_FAILED/,
    );
    expect(text).toMatch(/\nCLOSED\s+STOPPED\n/);
  });

  it("names the field and the reason for a bad option", () => {
    const result = spawnSync(process.execPath, [GPUCTL, "dialects", "--output", "yaml"], {
      encoding: "utf8",
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("argument 'yaml' is invalid. Allowed choices are table, json.");
  });
});
