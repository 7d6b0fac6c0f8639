import { describe, expect, it } from "vitest";
import { followJob } from "../../../bin/cli/follow-job.ts";
import type { Phase } from "../../../lambdas/domain/phases.ts";
import { GpuctlClient } from "../../../sdk/client.ts";
import { eventView, fakeApiPerTest, jobView } from "../sdk/fake-api.ts";
import { type FakeLogs, logsRoute } from "../sdk/fake-logs.ts";

const serve = fakeApiPerTest();

/**
 * A job that trains for three polls, then completes; at poll n its stdout is `lines[n-1]`
 * and its events those of the first n phases.
 */
const training = async (
  lines = ["", "", "epoch 1\n", "epoch 1\n\x1b[2Jepoch 2\n", "epoch 1\nepoch 2\ndone\n"],
) => {
  const phases: Phase[] = ["SUBMITTED", "TRAINING", "TRAINING", "TRAINING", "COMPLETED"];
  const logs: FakeLogs = { streams: {}, ended: false };
  let polls = 0;
  const api = await serve((request) => {
    if (request.path === "/v1/jobs/job-1/events") {
      polls = Math.min(polls + 1, phases.length);
      logs.streams.stdout = lines[polls - 1] ?? "";
      const passed = [...new Set(phases.slice(0, polls))];
      const items = passed.map((phase, index) =>
        eventView({ version: index + 1, at: new Date(0).toISOString(), type: "event", phase }),
      );
      return { json: { items } };
    }
    if (request.path === "/v1/jobs/job-1")
      return { json: jobView({ id: "job-1", phase: phases[polls - 1] ?? "SUBMITTED" }) };
    return logsRoute("job-1", logs)(request);
  });
  return { api, client: new GpuctlClient({ endpoint: api.endpoint }) };
};

describe("following a job", () => {
  it("keeps a live line on a terminal: the phase, the time, and the last line of stdout while TRAINING", async () => {
    const { client } = await training();
    const out: string[] = [];
    const terminal = { write: (text: string) => out.push(text), columns: 80 };
    const job = await followJob(client, jobView({ id: "job-1" }), (line) => out.push(`${line}\n`), {
      live: terminal,
    });
    expect(job.phase).toBe("COMPLETED");
    const shown = out
      .filter((text) => text.startsWith("\r\x1b[K") && text.length > 4)
      .map((text) => text.slice(4).replace(/ {2}\d+s/, "  <t>"));
    expect(shown).toEqual([
      "SUBMITTED  <t>",
      "TRAINING  <t>",
      "TRAINING  <t>  epoch 1",
      "TRAINING  <t>  epoch 2",
    ]);
    // Every phase line starts on a cleared line, and the live line is gone at the end.
    const phaseAt = out.findIndex((text) => text.includes("COMPLETED"));
    expect(out[phaseAt - 1]).toBe("\r\x1b[K");
    expect(out.at(-1)).toMatch(/COMPLETED\n$/);
  });

  it("skips ahead to the end of a long log for its last line", async () => {
    const long = `${`${"x".repeat(99)}\n`.repeat(2000)}latest\n`;
    const { client } = await training(["", "", long, long, long]);
    const out: string[] = [];
    await followJob(client, jobView({ id: "job-1" }), () => {}, {
      live: { write: (text: string) => out.push(text) },
    });
    expect(out.filter((text) => text.includes("latest"))).toHaveLength(1);
    expect(out.join("")).not.toContain("xxxx");
  });

  it("writes no live line and reads no logs without a terminal", async () => {
    const { api, client } = await training();
    const out: string[] = [];
    await followJob(client, jobView({ id: "job-1" }), (line) => out.push(line));
    expect(out.join("\n")).not.toContain("\r");
    expect(api.requests.some((request) => request.path.endsWith("/logs"))).toBe(false);
  });
});
