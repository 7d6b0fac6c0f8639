import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobEventView } from "../../../sdk/api-types.ts";
import { GpuctlClient } from "../../../sdk/client.ts";
import { downloadOutputs } from "../../../sdk/job-files.ts";
import { calls, fakeApiPerTest } from "./fake-api.ts";
import { REPLAY_OUTPUTS, replaying } from "./fake-replay.ts";

const serve = fakeApiPerTest();
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-job-files-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Two checkpoints, so that a checkpoint folder is seen to come down whole. */
const OUTPUTS = { ...REPLAY_OUTPUTS, "checkpoints/epoch-2.json": '{"w":2}' };

const files = async (folder: string): Promise<string[]> =>
  (await readdir(folder, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
    .sort();

describe("GpuctlClient.replayJob", () => {
  it("without a folder answers the submitted job at once, waiting for nothing", async () => {
    const api = await serve(replaying(["SUBMITTED", "TRAINING", "COMPLETED"]));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const job = await client.replayJob("job-1", { description: "NaN at epoch 3" });
    expect(job).toMatchObject({ id: "job-2", phase: "SUBMITTED", replayOf: "job-1" });
    expect(calls(api)).toEqual(["POST /v1/jobs/job-1/replay"]);
  });

  it("given folders, waits for the new job to end, then downloads its checkpoints and its logs there", async () => {
    const api = await serve(replaying(["SUBMITTED", "TRAINING", "COMPLETED"], OUTPUTS));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const seen: JobEventView[] = [];
    const ckptDir = join(dir, "ckpt");
    const logDir = join(dir, "logs-here");
    const replayed = await client.replayJob("job-1", {
      waitRequestS: 600,
      ckptDir,
      logDir,
      intervalMs: 1,
      onEvent: (event) => {
        seen.push(event);
      },
    });
    expect(replayed.job).toMatchObject({ id: "job-2", phase: "COMPLETED" });
    expect(seen.map((event) => event.phase)).toEqual(["SUBMITTED", "TRAINING", "COMPLETED"]);
    expect(replayed.checkpoints).toEqual({
      folder: join(ckptDir, "job-2"),
      files: 2,
      paths: [
        join(ckptDir, "job-2", "checkpoints/epoch-1.json"),
        join(ckptDir, "job-2", "checkpoints/epoch-2.json"),
      ],
    });
    expect(replayed.logs?.paths).toEqual([join(logDir, "job-2", "logs/stdout.log")]);
    expect(await files(ckptDir)).toEqual([
      "job-2/checkpoints/epoch-1.json",
      "job-2/checkpoints/epoch-2.json",
    ]);
    expect(await files(logDir)).toEqual(["job-2/logs/stdout.log"]);
    expect(await readFile(join(ckptDir, "job-2", "checkpoints/epoch-2.json"), "utf8")).toBe(
      '{"w":2}',
    );
  });

  it("downloads only the kind whose folder is given", async () => {
    const api = await serve(replaying(["SUBMITTED", "FAILED"]));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const replayed = await client.replayJob("job-1", { logDir: dir, intervalMs: 1 });
    expect(replayed.job.phase).toBe("FAILED");
    expect(replayed.checkpoints).toBeUndefined();
    expect(await files(dir)).toEqual(["job-2/logs/stdout.log"]);
  });

  it("refuses an output path that would leave the folder, writing nothing", async () => {
    const api = await serve(
      replaying(["SUBMITTED", "COMPLETED"], {
        "logs/stdout.log": "fine",
        "logs/../../../escaped.txt": "owned",
      }),
    );
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const inner = join(dir, "inner");
    await expect(client.replayJob("job-1", { logDir: inner, intervalMs: 1 })).rejects.toThrow(
      /refusing output path "logs\/..\/..\/..\/escaped.txt": it leaves/,
    );
    expect(await readdir(dir)).toEqual([]);
    expect(calls(api).filter((call) => call.includes("/outputs/"))).toEqual([]);
  });
});

describe("downloadOutputs", () => {
  it("refuses an absolute output path", async () => {
    // Inside the test's own folder, so that a broken check writes nowhere else.
    const absolute = join(dir, "elsewhere.txt");
    const api = await serve(replaying(["COMPLETED"], { [absolute]: "owned" }));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const results = join(dir, "results");
    await expect(downloadOutputs(client, "job-2", results)).rejects.toThrow(/refusing output path/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a job id that would name a folder outside the one given", async () => {
    const api = await serve(replaying(["COMPLETED"]));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const results = join(dir, "results");
    await expect(downloadOutputs(client, "../escaped", results)).rejects.toThrow(
      /refusing output path "..\/escaped"/,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("GpuctlClient.waitForJob", () => {
  it("tells each event once, every poll while the job runs, and answers the job as it ended", async () => {
    const api = await serve(replaying(["SUBMITTED", "TRAINING", "TRAINING", "COMPLETED"]));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const events: string[] = [];
    const polls: number[] = [];
    const job = await client.waitForJob("job-2", {
      intervalMs: 1,
      onEvent: (event) => {
        events.push(event.phase);
      },
      onPoll: (so) => {
        polls.push(so.length);
      },
    });
    expect(job.phase).toBe("COMPLETED");
    expect(events).toEqual(["SUBMITTED", "TRAINING", "TRAINING", "COMPLETED"]);
    expect(polls).toEqual([1, 2, 3]);
  });

  it("stops when its signal is aborted", async () => {
    const api = await serve(replaying(["SUBMITTED", "TRAINING"]));
    const client = new GpuctlClient({ endpoint: api.endpoint });
    const stop = new AbortController();
    const waiting = client.waitForJob("job-2", {
      intervalMs: 1,
      onPoll: (events) => {
        if (events.length === 2) stop.abort(new Error("enough"));
      },
      signal: stop.signal,
    });
    await expect(waiting).rejects.toThrow("enough");
    expect(calls(api).filter((call) => call.endsWith("/events"))).toHaveLength(2);
  });
});
