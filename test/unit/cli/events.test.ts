import { describe, expect, it } from "vitest";
import type { JobEventView } from "../../../sdk/api-types.ts";
import { apiError, eventView, fakeApiPerTest } from "../sdk/fake-api.ts";
import { controlCharacters, gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();

const events: JobEventView[] = [
  eventView({
    version: 1,
    at: "2026-01-01T00:00:00.000Z",
    type: "submitted",
    phase: "SUBMITTED",
    by: { userId: "u-1", email: "alice@example.com" },
  }),
  eventView({
    version: 2,
    at: "2026-01-01T00:00:01.000Z",
    type: "capacityWait",
    from: "SUBMITTED",
    phase: "QUEUED",
    reason: "QUOTA_EXCEEDED",
  }),
];

describe("gpuctl events", () => {
  it("prints each transition with its time, cause, move, reason, author and dialects", async () => {
    const api = await serve(() => ({ json: { items: events } }));
    const result = await gpuctl(["events", "job-1"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/\s{2,}/)).toEqual([
      "TIME",
      "EVENT",
      "PHASE",
      "REASON",
      "BY",
      "AIBRO",
      "RUN:AI",
      "MODELARTS",
    ]);
    expect(lines[1]?.split(/\s{2,}/)).toEqual([
      "2026-01-01T00:00:00.000Z",
      "submitted",
      "SUBMITTED",
      "-",
      "alice@example.com",
      "QUEUING / REQUESTING SERVER",
      "Pending",
      "1 JOBSTAT_INIT",
    ]);
    expect(lines[2]?.split(/\s{2,}/).slice(0, 5)).toEqual([
      "2026-01-01T00:00:01.000Z",
      "capacityWait",
      "SUBMITTED → QUEUED",
      "QUOTA_EXCEEDED",
      "-",
    ]);
    expect(api.requests.map((request) => request.path)).toEqual(["/v1/jobs/job-1/events"]);
  });

  it("shows one dialect with --dialect, and the API's events as they are with -o json", async () => {
    const api = await serve(() => ({ json: { items: events } }));
    const one = await gpuctl(["events", "job-1", "--dialect", "modelarts"], {
      endpoint: api.endpoint,
    });
    expect(
      one.stdout
        .split("\n")[0]
        ?.split(/\s{2,}/)
        .at(-1),
    ).toBe("MODELARTS");
    expect(one.stdout).not.toContain("AIBRO");
    const json = await gpuctl(["events", "job-1", "-o", "json"], { endpoint: api.endpoint });
    expect(JSON.parse(json.stdout)).toEqual(events);
  });

  it("shows what the server says without escape sequences", async () => {
    const by = { userId: "u-1", email: "eve\x1b]0;pwned\x07@example.com" };
    const api = await serve(() => ({ json: { items: [{ ...events[0], by }] } }));
    const result = await gpuctl(["events", "job-1"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(controlCharacters(result.stdout)).toEqual([]);
    expect(result.stdout).toContain("eve@example.com");
  });

  it("reports an unknown job and exits 1", async () => {
    const api = await serve(() => apiError(404, "NOT_FOUND", "no job job-9"));
    const result = await gpuctl(["events", "job-9"], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no job job-9");
  });

  it("has --help naming its options", async () => {
    const result = await gpuctl(["events", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("--dialect <name>");
    expect(result.stdout).toContain("-o, --output");
  });
});
