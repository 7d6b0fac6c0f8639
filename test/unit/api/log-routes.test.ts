import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import type { Phase } from "../../../lambdas/domain/phases.ts";
import { LATE_LOGS_MS } from "../../../lambdas/domain/results.ts";
import { logRoutes } from "../../../lambdas/handlers/api/log-routes.ts";
import type { UserEnv } from "../../../lambdas/handlers/api/user-identity.ts";
import type { ResultBytes } from "../../../lambdas/ports.ts";

const ENDED_AT = "2026-01-01T00:00:00.000Z";
const later = (ms: number) => new Date(Date.parse(ENDED_AT) + ms).toISOString();

/** One job of Ada's, its results in memory, and the clock: all the logs route reads. */
const world = () => {
  const job = { owner: "ada", phase: "TRAINING" as Phase };
  const results = new Map<string, Buffer>();
  let now = later(1);
  const reads: Array<{ path: string; offset: number; length: number }> = [];
  const cp = {
    jobs: {
      get: async (id: string) =>
        id === "job-1"
          ? { owner: job.owner, job: { id, phase: job.phase }, updatedAt: ENDED_AT }
          : undefined,
    },
    artifacts: {
      readResult: async (
        jobId: string,
        path: string,
        range: { offset: number; length: number },
      ): Promise<ResultBytes> => {
        reads.push({ path, ...range });
        const bytes = results.get(`${jobId}/${path}`) ?? Buffer.alloc(0);
        const part = bytes.subarray(range.offset, range.offset + range.length);
        return { bytes: new Uint8Array(part), size: bytes.length };
      },
    },
    clock: { now: () => now },
  };
  const app = new Hono<UserEnv>();
  app.use("*", async (c, next) => {
    c.set("caller", { userId: c.req.header("x-user") ?? "ada", email: "a@x", role: "user" });
    await next();
  });
  app.route("/v1", logRoutes(cp as never));
  const get = async (query: string, user = "ada", id = "job-1") => {
    const response = await app.request(`/v1/jobs/${id}/logs${query}`, {
      headers: { "x-user": user },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return {
    job,
    results,
    reads,
    get,
    setNow: (at: string) => {
      now = at;
    },
  };
};

let w: ReturnType<typeof world>;
beforeEach(() => {
  w = world();
});

describe("GET /v1/jobs/{id}/logs", () => {
  it("answers a chunk of the stream from the offset, and where the next read starts", async () => {
    w.results.set("job-1/logs/stderr.log", Buffer.from("line one\nline two\n"));
    const { status, body } = await w.get("?stream=stderr&offset=9");
    expect(status).toBe(200);
    expect(body).toEqual({
      stream: "stderr",
      offset: 9,
      nextOffset: 18,
      size: 18,
      text: "line two\n",
      ended: false,
    });
    expect(w.reads).toEqual([{ path: "logs/stderr.log", offset: 9, length: 64 * 1024 }]);
  });

  it("reads stdout from the start when no query is given", async () => {
    w.results.set("job-1/logs/stdout.log", Buffer.from("hi\n"));
    expect((await w.get("")).body).toMatchObject({ stream: "stdout", offset: 0, text: "hi\n" });
  });

  it("answers at most 64 KiB a read, so a big log comes in chunks", async () => {
    w.results.set("job-1/logs/stdout.log", Buffer.alloc(100_000, "x"));
    const first = (await w.get("")).body;
    expect(first).toMatchObject({ nextOffset: 65_536, size: 100_000 });
    expect((first.text as string).length).toBe(65_536);
    const second = (await w.get("?offset=65536")).body;
    expect(second).toMatchObject({ nextOffset: 100_000 });
    expect((second.text as string).length).toBe(100_000 - 65_536);
  });

  it("never splits a multi-byte character: the next read starts at its first byte", async () => {
    // 65,535 ASCII bytes, then a 4-byte emoji across the chunk's end.
    const log = Buffer.concat([Buffer.alloc(65_535, "a"), Buffer.from("😀 done")]);
    w.results.set("job-1/logs/stdout.log", log);
    const first = (await w.get("")).body;
    expect(first.nextOffset).toBe(65_535);
    expect(first.text).not.toContain("\uFFFD");
    const second = (await w.get(`?offset=${first.nextOffset}`)).body;
    expect(second).toMatchObject({ text: "😀 done", nextOffset: log.length });
  });

  it("holds back a character the running job has only half written", async () => {
    const euro = Buffer.from("€");
    w.results.set("job-1/logs/stdout.log", Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)]));
    expect((await w.get("")).body).toMatchObject({ text: "a", nextOffset: 1, ended: false });
  });

  it("is ended once a completed or failed job's stream is read to its end", async () => {
    w.results.set("job-1/logs/stderr.log", Buffer.from("boom\n"));
    w.job.phase = "FAILED";
    expect((await w.get("?stream=stderr")).body).toMatchObject({ text: "boom\n", ended: true });
    expect((await w.get("?stream=stderr&offset=2")).body).toMatchObject({ ended: true });
    w.job.phase = "COMPLETED";
    expect((await w.get("?stream=setup-stdout")).body).toMatchObject({
      text: "",
      size: 0,
      ended: true,
    });
  });

  it("is not ended before the whole stream is read", async () => {
    w.results.set("job-1/logs/stdout.log", Buffer.alloc(70_000, "x"));
    w.job.phase = "COMPLETED";
    expect((await w.get("")).body).toMatchObject({ ended: false });
  });

  it("waits for late logs of a canceled or timed-out job, then is ended", async () => {
    for (const phase of ["CANCELED", "TIMED_OUT", "LOST"] as const) {
      w.job.phase = phase;
      w.setNow(later(LATE_LOGS_MS - 1));
      expect((await w.get("")).body).toMatchObject({ ended: false });
      w.setNow(later(LATE_LOGS_MS + 1));
      expect((await w.get("")).body).toMatchObject({ ended: true });
    }
  });

  it("answers an offset past the end with nothing, at the end: never beyond the log", async () => {
    w.results.set("job-1/logs/stdout.log", Buffer.alloc(145, "x"));
    const { status, body } = await w.get("?offset=999999");
    expect(status).toBe(200);
    expect(body).toMatchObject({ offset: 145, nextOffset: 145, size: 145, text: "" });
  });

  it("answers another user's job, and a job that does not exist, 404", async () => {
    w.results.set("job-1/logs/stdout.log", Buffer.from("secret\n"));
    const stranger = await w.get("", "bob");
    expect(stranger.status).toBe(404);
    expect(JSON.stringify(stranger.body)).not.toContain("secret");
    expect((await w.get("", "ada", "job-2")).status).toBe(404);
    expect(w.reads).toEqual([]);
  });

  it.each([
    ["?stream=stdin", "stream"],
    ["?stream=../../inputs", "stream"],
    ["?offset=-1", "offset"],
    ["?offset=1.5", "offset"],
    ["?offset=abc", "offset"],
    [`?offset=${"9".repeat(30)}`, "offset"],
    ["?offset=", "offset"],
    ["?offset=%20", "offset"],
    ["?offset=%201", "offset"],
    ["?offset=0x10", "offset"],
    ["?offset=1e3", "offset"],
    ["?offset=%2B5", "offset"],
  ])("refuses %s with a 400 naming %s, reading nothing", async (query, field) => {
    const { status, body } = await w.get(query);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { code: "VALIDATION", fields: [{ field }] } });
    expect(w.reads).toEqual([]);
  });
});
