import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogSync, sendSnapshots, type Upload } from "../../../agent/log-sync.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-log-sync-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** What `sendSnapshots` sent: each key with the bytes of its copy. */
const snapshotsOf = async (uploads: Upload[], maxBytes: number) => {
  const sent = new Map<string, string>();
  await sendSnapshots(uploads, { maxBytes, scratch: join(dir, "scratch") }, async (copies) => {
    for (const { file, key } of copies) sent.set(key, await readFile(file, "utf8"));
  });
  return sent;
};

describe("the agent's log snapshots", () => {
  it("sends a copy of each log as it is", async () => {
    const file = join(dir, "stdout.log");
    await writeFile(file, "hello\n");
    expect(await snapshotsOf([{ file, key: "logs/stdout.log" }], 100)).toEqual(
      new Map([["logs/stdout.log", "hello\n"]]),
    );
  });

  it("sends a log over the limit as its last part from a whole character, within the limit", async () => {
    const file = join(dir, "stdout.log");
    await writeFile(file, `${"é".repeat(200)}end\n`);
    const sent = (await snapshotsOf([{ file, key: "logs/stdout.log" }], 120)).get(
      "logs/stdout.log",
    );
    expect(Buffer.byteLength(sent ?? "")).toBeLessThanOrEqual(120);
    const [note, tail] = (sent ?? "").split("]\n");
    expect(note).toMatch(/^\[gpuctl: the log outgrew 120 bytes: its first \d+ bytes are left out$/);
    expect(tail).toMatch(/^é+end\n$/);
    const left = Number(/first (\d+) bytes/.exec(note ?? "")?.[1]);
    expect(left + Buffer.byteLength(tail ?? "")).toBe(404);
  });
});

describe("the agent's log sync", () => {
  it("sends at the end only the logs that changed since they were last sent", async () => {
    const out = { file: join(dir, "stdout.log"), key: "logs/stdout.log" };
    const err = { file: join(dir, "stderr.log"), key: "logs/stderr.log" };
    await writeFile(out.file, "one\n");
    await writeFile(err.file, "");
    const sends: string[][] = [];
    const sync = () =>
      new LogSync({
        intervalMs: 60_000,
        list: async () => [out, err],
        send: async (uploads) => {
          sends.push(uploads.map((upload) => upload.key));
        },
        label: "logs job=job-1",
      });
    const first = sync();
    await first.finish(new AbortController().signal);
    expect(sends).toEqual([["logs/stdout.log", "logs/stderr.log"]]);
    await first.finish(new AbortController().signal);
    expect(sends).toHaveLength(1);
    await appendFile(out.file, "two\n");
    await first.finish(new AbortController().signal);
    expect(sends.at(-1)).toEqual(["logs/stdout.log"]);
  });

  it("sends again at the end what it could not send before", async () => {
    const out = { file: join(dir, "stdout.log"), key: "logs/stdout.log" };
    await writeFile(out.file, "one\n");
    let refuse = true;
    const sent: string[] = [];
    const sync = new LogSync({
      intervalMs: 60_000,
      list: async () => [out],
      send: async (uploads) => {
        if (refuse) throw new Error("HTTP 503");
        sent.push(...uploads.map((upload) => upload.key));
      },
      label: "logs job=job-1",
    });
    await sync.finish(new AbortController().signal);
    refuse = false;
    await sync.finish(new AbortController().signal);
    expect(sent).toEqual(["logs/stdout.log"]);
  });
});
