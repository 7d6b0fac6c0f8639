import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Phase, Reason } from "../../../lambdas/domain/phases.ts";
import { type JobEventView, PREPARED_SINCE_HEADER } from "../../../sdk/api-types.ts";
import {
  apiError,
  eventView,
  type FakeApi,
  type Handler,
  jobView,
  type RecordedRequest,
  startFakeApi,
} from "../sdk/fake-api.ts";
import { gpuctl } from "./run-gpuctl.ts";

let dir: string;
let api: FakeApi | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-submit-"));
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await rm(dir, { recursive: true, force: true });
});

const serve = async (handler: Handler) => {
  api = await startFakeApi(handler);
  return api;
};

const writeSpec = async (name: string, text: string) => {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
  return path;
};

const GOOD_SPEC = `
name: train-resnet
instance:
  types: [local]
run: python train.py
outputs: [model.bin, logs/train.log]
`;

const posted = (request: RecordedRequest) => JSON.parse(request.body.toString("utf8")) as unknown;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("gpuctl submit: local validation", () => {
  it("lists every bad field as FILE: field: message, exits 2 and sends nothing", async () => {
    const api = await serve(() => ({ status: 201, json: jobView({ id: "job-1" }) }));
    const spec = await writeSpec(
      "bad.yaml",
      "name: Bad_Name\ninstance:\n  types: []\noutputs: [../escape]\nsurprise: 1\n",
    );

    const result = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });

    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        `${spec}: name: must be 1-63 lowercase letters, digits or dashes`,
        `${spec}: instance.types: name at least one instance type`,
        expect.stringMatching(new RegExp(`^${spec}: run: `)),
        `${spec}: outputs.0: must be a path inside the job folder (relative, no ..)`,
        `${spec}: surprise: is not a known field`,
      ]),
    );
    expect(lines.every((line) => line.startsWith(`${spec}: `))).toBe(true);
    expect(result.stdout).toBe("");
    expect(api.requests).toEqual([]);
  });

  it("reports a YAML syntax error with the file name and sends nothing", async () => {
    const api = await serve(() => undefined);
    const spec = await writeSpec("broken.yaml", "name: a\n  run: [unclosed\n");
    const result = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${spec}: .*line`));
    expect(api.requests).toEqual([]);
  });

  it("validates before it looks for a control plane", async () => {
    const spec = await writeSpec("bad.json", JSON.stringify({ name: "ok", run: "true" }));
    const result = await gpuctl(["submit", "-f", spec]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${spec}: instance: `);
    expect(result.stderr).not.toContain("no control plane");
  });

  it("refuses a missing input file before uploading anything", async () => {
    const api = await serve(() => ({ status: 201, json: { url: "https://inputs.example/x" } }));
    await writeFile(join(dir, "present.csv"), "a\n");
    const spec = await writeSpec(
      "spec.yaml",
      `${GOOD_SPEC}inputs:\n  - { file: present.csv, path: a.csv }\n  - { file: missing.csv, path: b.csv }\n`,
    );
    const result = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${spec}: inputs\\.1\\.file: cannot read: .*ENOENT`));
    expect(api.requests).toEqual([]);
  });
});

describe("gpuctl submit", () => {
  it("reads JSON too, sends it with a fresh idempotency key per run, and prints the job id", async () => {
    const api = await serve(() => ({ status: 201, json: jobView({ id: "job-42" }) }));
    const document = { name: "train", instance: { types: ["local"] }, run: "true" };
    const spec = await writeSpec("spec.json", JSON.stringify(document));

    const first = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });
    const second = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });

    expect([first.code, first.stdout, first.stderr]).toEqual([0, "job-42\n", ""]);
    expect(second.code).toBe(0);
    const [one, two] = api.requests;
    expect(api.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      "POST /v1/jobs",
      "POST /v1/jobs",
    ]);
    expect(posted(one as RecordedRequest)).toEqual(document);
    expect(one?.headers["idempotency-key"]).toMatch(UUID);
    expect(two?.headers["idempotency-key"]).toMatch(UUID);
    expect(one?.headers["idempotency-key"]).not.toBe(two?.headers["idempotency-key"]);
  });

  it("says when it began preparing the job, before its inputs were uploaded", async () => {
    const api = await serve((request) =>
      request.path === "/v1/jobs"
        ? { status: 201, json: jobView({ id: "job-43" }) }
        : { status: 200, json: { sha256: "0".repeat(64), stored: true } },
    );
    await writeFile(join(dir, "data.csv"), "a\n");
    const spec = await writeSpec(
      "spec.yaml",
      `${GOOD_SPEC}inputs:\n  - file: data.csv\n    path: data.csv\n`,
    );
    const before = Date.now();
    expect((await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint })).code).toBe(0);
    const [upload, submit] = api.requests;
    expect(upload?.path).toBe("/v1/inputs");
    const since = Date.parse(String(submit?.headers[PREPARED_SINCE_HEADER]));
    expect(since).toBeGreaterThanOrEqual(before - 1);
    expect(since).toBeLessThanOrEqual(Date.now());
  });

  it("uploads a file input from the spec's folder and sends its sha256 instead", async () => {
    const data = "x,y\n1,2\n";
    const sha = createHash("sha256").update(data).digest("hex");
    const api = await serve((request) => {
      if (request.path === "/v1/inputs") {
        const upload = {
          url: `${api.endpoint}/v1/artifacts/inputs/${sha}`,
          headers: { "x-amz-checksum-sha256": "c" },
        };
        return { status: 200, json: { sha256: sha, stored: false, upload } };
      }
      if (request.method === "PUT") return { status: 201 };
      return { status: 201, json: jobView({ id: "job-7" }) };
    });
    await mkdir(join(dir, "project", "data"), { recursive: true });
    await writeFile(join(dir, "project", "data", "train.csv"), data);
    const spec = await writeSpec(
      "project/job.yaml",
      `${GOOD_SPEC}inputs:\n  - { file: data/train.csv, path: train.csv }\n  - { url: "https://example.com/w.bin", path: w.bin }\n`,
    );

    // Run from another folder: the file is found relative to the spec, not the cwd.
    const result = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint, cwd: dir });

    expect(result).toMatchObject({ code: 0, stdout: "job-7\n" });
    const [announce, upload, submit] = api.requests;
    expect(posted(announce as RecordedRequest)).toEqual({ sha256: sha, size: data.length });
    expect(upload?.method).toBe("PUT");
    expect(upload?.path).toBe(`/v1/artifacts/inputs/${sha}`);
    expect(upload?.headers["x-amz-checksum-sha256"]).toBe("c");
    expect(upload?.body.toString("utf8")).toBe(data);
    expect(submit?.path).toBe("/v1/jobs");
    expect(posted(submit as RecordedRequest)).toMatchObject({
      name: "train-resnet",
      inputs: [
        { sha256: sha, path: "train.csv" },
        { url: "https://example.com/w.bin", path: "w.bin" },
      ],
    });
    expect(api.requests).toHaveLength(3);
  });

  it("prints the API's error and each field it names, and exits 1", async () => {
    const api = await serve(() =>
      apiError(409, "CONFLICT", "model name llama is in use", [
        { field: "modelName", message: "served by job-3" },
      ]),
    );
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "gpuctl: model name llama is in use\n  modelName: served by job-3\n",
    );
  });
});

/**
 * A job whose events come `perPoll` at a time along `script`: a fast job passes several
 * phases between two polls.
 */
const scripted = (
  id: string,
  script: Array<[Phase, Reason?]>,
  outputs: Record<string, string>,
  perPoll = 1,
) => {
  let polls = 0;
  const viewOf = ([phase, reason]: [Phase, Reason?]) =>
    jobView({
      id,
      phase,
      ...(reason && { reason }),
      ...(phase === "FAILED" && { exitCode: 3 }),
    });
  const revealed = () =>
    script.slice(0, Math.min(script.length, 1 + Math.max(0, polls - 1) * perPoll));
  const handler: Handler = (request) => {
    if (request.method === "POST" && request.path === "/v1/jobs")
      return { status: 201, json: viewOf(script[0] as [Phase, Reason?]) };
    if (request.path === `/v1/jobs/${id}/events`) {
      polls++;
      const items: JobEventView[] = revealed().map(([phase, reason], index) =>
        eventView({
          version: index + 1,
          at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
          type: index === 0 ? "submitted" : "event",
          phase,
          ...(reason && { reason }),
        }),
      );
      return { json: { items } };
    }
    if (request.path === `/v1/jobs/${id}`)
      return { json: viewOf(revealed().at(-1) as [Phase, Reason?]) };
    if (request.path === `/v1/jobs/${id}/outputs`) return { json: { items: Object.keys(outputs) } };
    const prefix = `/v1/jobs/${id}/outputs/`;
    if (request.path.startsWith(prefix)) {
      const content = outputs[decodeURIComponent(request.path.slice(prefix.length))];
      return content === undefined ? undefined : { body: content };
    }
    return undefined;
  };
  return handler;
};

const PHASE_LINE = /^\d\d:\d\d:\d\d {2}(\S+)(?: {2}\((\S+)\))?$/;

const phaseLines = (text: string) =>
  text
    .split("\n")
    .map((line) => PHASE_LINE.exec(line))
    .flatMap((match) => (match ? [match[2] ? `${match[1]} (${match[2]})` : match[1]] : []));

describe("gpuctl submit --wait", () => {
  it("prints each new phase until COMPLETED, then downloads every output", async () => {
    const outputs = { "model.bin": "weights", "logs/train.log": "epoch 1\n" };
    const api = await serve(
      scripted(
        "job-9",
        [
          ["SUBMITTED"],
          ["QUEUED"],
          ["QUEUED", "INSUFFICIENT_CAPACITY"],
          ["TRAINING"],
          ["COMPLETED"],
        ],
        outputs,
      ),
    );
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);

    const result = await gpuctl(["submit", "-f", spec, "--wait"], {
      endpoint: api.endpoint,
      cwd: dir,
    });

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toBe("job-9");
    expect(phaseLines(result.stdout)).toEqual([
      "SUBMITTED",
      "QUEUED",
      "QUEUED (INSUFFICIENT_CAPACITY)",
      "TRAINING",
      "COMPLETED",
    ]);
    expect(result.stdout).toContain("2 outputs downloaded to gpuctl-results/job-9/");
    const folder = join(dir, "gpuctl-results", "job-9");
    expect(await readFile(join(folder, "model.bin"), "utf8")).toBe("weights");
    expect(await readFile(join(folder, "logs", "train.log"), "utf8")).toBe("epoch 1\n");
    const polls = api.requests.filter((request) => request.path === "/v1/jobs/job-9/events");
    expect(polls).toHaveLength(5);
  });

  it("says what a job at the cost gate waits for, and who let it through", async () => {
    const script = scripted(
      "job-4",
      [["SUBMITTED"], ["PENDING_REVIEW"], ["QUEUED"], ["COMPLETED"]],
      {},
    );
    const api = await serve((request) => {
      const answer = script(request);
      if (request.path !== "/v1/jobs/job-4/events" || !answer || !("json" in answer)) return answer;
      const { items } = answer.json as { items: JobEventView[] };
      const rita = { userId: "u-rita", email: "rita@example.org" };
      return {
        json: {
          items: items.map((event) => (event.phase === "QUEUED" ? { ...event, by: rita } : event)),
        },
      };
    });
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec, "--wait"], { endpoint: api.endpoint });
    const lines = result.stdout.split("\n");
    expect(lines.find((line) => line.includes("PENDING_REVIEW"))).toMatch(
      /PENDING_REVIEW {2}waiting for a reviewer or admin to approve it \(they see it in `gpuctl reviews`\)$/,
    );
    expect(lines.find((line) => line.includes("QUEUED"))).toMatch(/QUEUED {2}by rita@example.org$/);
  });

  it("prints every phase the job passed, even several between two polls", async () => {
    const script: Array<[Phase, Reason?]> = [
      ["SUBMITTED"],
      ["REQUESTING_SERVER"],
      ["CONNECTING_SERVER"],
      ["GEARING_UP_ENV"],
      ["SENDING_MODEL_AND_DATA"],
      ["FAILED", "MOUNT_FAILED"],
    ];
    const api = await serve(scripted("job-7", script, {}, 4));
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec, "--wait"], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(phaseLines(result.stdout)).toEqual([
      "SUBMITTED",
      "REQUESTING_SERVER",
      "CONNECTING_SERVER",
      "GEARING_UP_ENV",
      "SENDING_MODEL_AND_DATA",
      "FAILED (MOUNT_FAILED)",
    ]);
  });

  it("exits 1 when the job ends otherwise, and downloads nothing", async () => {
    const api = await serve(
      scripted("job-5", [["SUBMITTED"], ["TRAINING"], ["FAILED", "EXIT_CODE"]], { "a.txt": "a" }),
    );
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const results = join(dir, "out");

    const result = await gpuctl(["submit", "-f", spec, "--wait", "--results", results], {
      endpoint: api.endpoint,
    });

    expect(result.code).toBe(1);
    expect(phaseLines(result.stdout)).toEqual(["SUBMITTED", "TRAINING", "FAILED (EXIT_CODE)"]);
    expect(result.stdout).toContain("exit code 3");
    expect(api.requests.some((request) => request.path.includes("/outputs"))).toBe(false);
    await expect(readFile(join(results, "job-5", "a.txt"))).rejects.toThrow(/ENOENT/);
  });

  it.each(["CANCELED", "TIMED_OUT", "LOST", "PREEMPTED"] as const)(
    "exits 1 when the job ends %s, and says where its logs are",
    async (phase) => {
      const api = await serve(scripted("job-8", [["SUBMITTED"], ["TRAINING"], [phase]], {}));
      const spec = await writeSpec("spec.yaml", GOOD_SPEC);
      const result = await gpuctl(["submit", "-f", spec, "--wait"], { endpoint: api.endpoint });
      expect(result.code).toBe(1);
      expect(phaseLines(result.stdout)).toEqual(["SUBMITTED", "TRAINING", phase]);
      expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("its logs: gpuctl logs job-8");
      // Not a terminal: no live line rewritten in place.
      expect(result.stdout).not.toContain("\r");
    },
  );

  it("says where a failed attempt's logs are when it is retried", async () => {
    const script: Array<[Phase, Reason?]> = [
      ["SUBMITTED"],
      ["TRAINING"],
      ["RETRY_BACKOFF", "EXIT_CODE"],
      ["TRAINING"],
      ["COMPLETED"],
    ];
    const api = await serve(scripted("job-10", script, {}));
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec, "--wait"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^\d\d:\d\d:\d\d {2}RETRY_BACKOFF {2}\(EXIT_CODE\) {2}retrying after a backoff; why: gpuctl logs job-10$/m,
    );
  });

  it("points a job that failed in its env setup to the setup's stderr, with its exit code", async () => {
    const script: Array<[Phase, Reason?]> = [
      ["SUBMITTED"],
      ["GEARING_UP_ENV"],
      ["FAILED", "IMAGE_PULL"],
    ];
    const api = await serve(scripted("job-9", script, {}));
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec, "--wait"], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split("\n").slice(-2)).toEqual([
      "exit code 3",
      "its setup failed: gpuctl logs job-9 --stream setup-stderr",
    ]);
  });

  it("with --output json prints only the final JobView on stdout, into --results", async () => {
    const api = await serve(
      scripted("job-6", [["SUBMITTED"], ["COMPLETED"]], { "model.bin": "w" }),
    );
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const results = join(dir, "results");

    const result = await gpuctl(
      ["submit", "-f", spec, "--wait", "--output", "json", "--results", results],
      { endpoint: api.endpoint },
    );

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(jobView({ id: "job-6", phase: "COMPLETED" }));
    expect(phaseLines(result.stderr)).toEqual(["SUBMITTED", "COMPLETED"]);
    expect(await readFile(join(results, "job-6", "model.bin"), "utf8")).toBe("w");
  });

  it("refuses --results without --wait as a usage error", async () => {
    const api = await serve(() => undefined);
    const spec = await writeSpec("spec.yaml", GOOD_SPEC);
    const result = await gpuctl(["submit", "-f", spec, "--results", dir], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("gpuctl: --results applies only with --wait\n");
    expect(api.requests).toEqual([]);
  });
});
