import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeConfig } from "../../../sdk/config.ts";
import {
  apiError,
  calls,
  closedPort,
  fakeApiPerTest,
  type Handler,
  instanceView,
  jobView,
} from "../sdk/fake-api.ts";
import { controlCharacters, gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

describe("gpuctl ls", () => {
  const jobs = [
    jobView({ id: "job-2", name: "serve-llama", phase: "QUEUED", reason: "QUOTA_EXCEEDED" }),
    jobView({ id: "job-1", phase: "COMPLETED" }),
  ].map((job, index) => ({ ...job, createdAt: minutesAgo(5 + index * 120) }));

  it("prints a table of jobs with their age", async () => {
    const api = await serve(() => ({ json: { items: jobs } }));
    const result = await gpuctl(["ls"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines.map((line) => line.split(/\s+/))).toEqual([
      ["ID", "NAME", "KIND", "PHASE", "REASON", "AGE"],
      ["job-2", "serve-llama", "training", "QUEUED", "QUOTA_EXCEEDED", "5m"],
      ["job-1", "train-resnet", "training", "COMPLETED", "-", "2h"],
    ]);
    expect(calls(api)).toEqual(["GET /v1/jobs?limit=20"]);
  });

  it("prints a JSON array, following the cursor up to --limit", async () => {
    const api = await serve((request) =>
      request.query.get("cursor")
        ? { json: { items: [jobView({ id: "job-c" }), jobView({ id: "job-d" })], cursor: "c2" } }
        : { json: { items: [jobView({ id: "job-a" }), jobView({ id: "job-b" })], cursor: "c1" } },
    );
    const result = await gpuctl(["ls", "--limit", "3", "--output", "json"], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as Array<{ id: string }>;
    expect(listed.map((job) => job.id)).toEqual(["job-a", "job-b", "job-c"]);
    expect(calls(api)).toEqual(["GET /v1/jobs?limit=3", "GET /v1/jobs?limit=1&cursor=c1"]);
  });

  it("refuses a --limit that is not a positive integer", async () => {
    const api = await serve(() => undefined);
    const result = await gpuctl(["ls", "--limit", "0"], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("must be a positive integer");
    expect(api.requests).toEqual([]);
  });
});

describe("gpuctl status", () => {
  const AT = "2025-01-01T00:00:02Z";
  const job = jobView({
    id: "job-3",
    phase: "TRAINING",
    attempt: 2,
    instanceId: "i-0abc",
    workersTotal: 2,
    workersReady: 2,
  });
  const periods = [
    {
      phase: "Job Create",
      startedAt: "2025-01-01T00:00:00Z",
      endedAt: "2025-01-01T00:00:02Z",
      seconds: 2,
    },
    { phase: "Model Training", startedAt: "2025-01-01T00:00:02Z", seconds: 75.25 },
  ];
  const handler: Handler = (request) => {
    if (request.path === "/v1/jobs/job-3") return { json: job };
    if (request.path === "/v1/jobs/job-3/timeline") return { json: { periods } };
    return undefined;
  };

  /** `gpuctl status job-3` against a server that shows the job as `shown`, and its lines' columns. */
  const statusOf = async (shown: ReturnType<typeof jobView>) => {
    const api = await serve((request) =>
      request.path === "/v1/jobs/job-3" ? { json: shown } : handler(request),
    );
    const result = await gpuctl(["status", "job-3"], { endpoint: api.endpoint });
    const lines = result.stdout.split("\n").map((line) => line.trim().split(/\s{2,}/));
    return { ...result, lines };
  };

  it("summarises phase, attempt, instance, every dialect and the timeline", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["status", "job-3"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n").map((line) => line.trim().split(/\s{2,}/));
    expect(lines).toEqual(
      expect.arrayContaining([
        ["Phase:", "TRAINING"],
        ["Attempt:", "2"],
        ["Workers:", "2/2 ready"],
        ["Instance:", "i-0abc"],
        ["AIbro:", "TRAINING / TRAINING"],
        ["Run:ai:", `${job.dialects.runai.status} (allocates resources)`],
        ["ModelArts:", `${job.dialects.modelarts.code} ${job.dialects.modelarts.name}`],
        ["Job Create", "2.0 s"],
        ["Model Training", "1 min 15 s", "(running)"],
      ]),
    );
    expect(calls(api)).toEqual(["GET /v1/jobs/job-3", "GET /v1/jobs/job-3/timeline"]);
  });

  it("shows what the job cost and what it replays", async () => {
    const costed = jobView({
      id: "job-3",
      phase: "COMPLETED",
      replayOf: "job-1",
      description: "loss turns NaN",
      cost: {
        usd: 0.237528,
        instanceType: "g5.xlarge",
        items: [
          { part: "boot", seconds: 180, usd: 0.0503 },
          { part: "running", seconds: 670.4, usd: 0.187228 },
        ],
        prices: {},
        asOf: AT,
      },
    });
    const { code, lines } = await statusOf(costed);
    expect(code).toBe(0);
    expect(lines).toEqual(
      expect.arrayContaining([
        ["Replay of:", "job-1"],
        ["Description:", "loss turns NaN"],
        ["Cost:", "$0.24 estimated from list prices (boot 180s $0.05, running 670s $0.19)"],
      ]),
    );
  });

  it("shows a description another user wrote without the escape sequences in it", async () => {
    const description = "\x1b]0;pwned\x07why\x1b]52;c;cm0gLXJm\x07 it\x1b[2J\x9b2J\nfails\x00";
    const { code, stdout, lines } = await statusOf(jobView({ id: "job-3", description }));
    expect(code).toBe(0);
    expect(controlCharacters(stdout)).toEqual([]);
    expect(lines).toContainEqual(["Description:", "why it fails"]);
  });

  it("says why a job's cost has no figure", async () => {
    const unpriced = jobView({
      id: "job-3",
      cost: {
        unpriced: "spot capacity is not priced",
        items: [{ part: "running", seconds: 60 }],
        prices: {},
        asOf: AT,
      },
    });
    const { stdout } = await statusOf(unpriced);
    expect(stdout).toMatch(/^Cost: +not priced: spot capacity is not priced \(running 60s\)$/m);
  });

  it("asks for one dialect and shows only that one", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["status", "job-3", "--dialect", "modelarts"], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ModelArts:\s+\d+ JOBSTAT_/m);
    expect(result.stdout).not.toMatch(/^(AIbro|Run:ai):/m);
    expect(calls(api)[0]).toBe("GET /v1/jobs/job-3?dialect=modelarts");
  });

  it("prints the JobView with its timeline as JSON", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["status", "job-3", "-o", "json"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ...job, timeline: periods });
  });

  it("shows a period with a date that does not parse, or no end, without failing", async () => {
    const api = await serve((request) =>
      request.path.endsWith("/timeline")
        ? {
            json: {
              periods: [
                { phase: "Env Gear up", startedAt: "not a date", endedAt: AT, seconds: null },
                { phase: "Model Training", startedAt: "not a date", seconds: null },
              ],
            },
          }
        : handler(request),
    );
    const result = await gpuctl(["status", "job-3"], { endpoint: api.endpoint });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.split("\n").map((line) => line.trim().split(/\s{2,}/));
    expect(lines).toEqual(
      expect.arrayContaining([
        ["Env Gear up", "?"],
        ["Model Training", "?", "(running)"],
      ]),
    );
  });

  it("shows a reviewer the job awaiting their review, without the timeline they may not read", async () => {
    const api = await serve((request) =>
      request.path.endsWith("/timeline")
        ? apiError(404, "NOT_FOUND", "job job-9 not found")
        : { json: jobView({ id: "job-9", phase: "PENDING_REVIEW" }) },
    );
    const result = await gpuctl(["status", "job-9"], { endpoint: api.endpoint });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain("PENDING_REVIEW");
  });

  it("prints the API's message for an unknown job and exits 1", async () => {
    const api = await serve(() => apiError(404, "NOT_FOUND", "no job job-404"));
    const result = await gpuctl(["status", "job-404"], { endpoint: api.endpoint });
    expect(result).toEqual({ code: 1, stdout: "", stderr: "gpuctl: no job job-404\n" });
  });
});

describe("gpuctl cancel and complete", () => {
  const answer: Handler = (request) => {
    if (request.method !== "POST") return undefined;
    if (request.path.endsWith("/cancel")) {
      return { json: jobView({ id: "job-1", phase: "CANCELING" }) };
    }
    return { json: jobView({ id: "job-8", kind: "inference", phase: "COMPLETED" }) };
  };

  it("cancels a job and prints the phase it moved to", async () => {
    const api = await serve(answer);
    const result = await gpuctl(["cancel", "job-1"], { endpoint: api.endpoint });
    expect(result).toMatchObject({ code: 0, stdout: "job-1  CANCELING\n" });
    expect(calls(api)).toEqual(["POST /v1/jobs/job-1/cancel"]);
  });

  it("completes a deployment by job id or by model name", async () => {
    const api = await serve(answer);
    const byId = await gpuctl(["complete", "job-8"], { endpoint: api.endpoint });
    const byModel = await gpuctl(["complete", "--model", "llama-3"], { endpoint: api.endpoint });
    expect(byId).toMatchObject({ code: 0, stdout: "job-8  COMPLETED\n" });
    expect(byModel).toMatchObject({ code: 0, stdout: "job-8  COMPLETED\n" });
    expect(calls(api)).toEqual([
      "POST /v1/jobs/job-8/complete",
      "POST /v1/deployments/llama-3/complete",
    ]);
  });

  it("completes by job id when given both a job id and a model name", async () => {
    const api = await serve(answer);
    const result = await gpuctl(["complete", "job-8", "--model", "llama-3"], {
      endpoint: api.endpoint,
    });
    expect(result).toMatchObject({ code: 0, stdout: "job-8  COMPLETED\n" });
    expect(calls(api)).toEqual(["POST /v1/jobs/job-8/complete"]);
  });

  it("refuses `complete` with neither as a usage error, sending nothing", async () => {
    const api = await serve(answer);
    const result = await gpuctl(["complete"], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("name JOB or --model NAME");
    expect(api.requests).toEqual([]);
  });

  it("prints each field of a refusal", async () => {
    const api = await serve(() =>
      apiError(409, "REFUSED", "only inference deployments complete", [
        { field: "kind", message: "is training" },
        { field: "id", message: "names job-1" },
      ]),
    );
    const result = await gpuctl(["complete", "job-1"], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "gpuctl: only inference deployments complete\n  kind: is training\n  id: names job-1\n",
    );
  });
});

describe("gpuctl instances", () => {
  // Made as each test starts: the ages are minutes from now, and a loaded machine can take
  // longer than that to reach the last test of this file.
  const instancesNow = () => [
    instanceView({ id: "i-1", jobId: "job-1", updatedAt: minutesAgo(3) }),
    instanceView({
      id: "i-2",
      status: "CLOSING",
      substatus: "STOPPING",
      aibro: { status: "CLOSING", substatus: "STOPPING" },
      instanceType: "p4d.24xlarge",
      spot: true,
      updatedAt: minutesAgo(30),
      cost: {
        unpriced: "spot capacity is not priced",
        instanceType: "p4d.24xlarge",
        items: [{ part: "running", seconds: 600 }],
        prices: {},
        asOf: minutesAgo(0),
      },
    }),
    instanceView({
      id: "i-3",
      status: "COOLING",
      aibro: { status: "COOLING", substatus: "COOLING" },
      coolingUntil: minutesAgo(-4.5),
      stoppedUntil: minutesAgo(-3 * 60.5),
      updatedAt: minutesAgo(1),
    }),
    instanceView({
      id: "i-4",
      status: "COOLING",
      aibro: { status: "COOLING", substatus: "COOLING" },
      coolingUntil: minutesAgo(-2.5),
      stoppedUntil: minutesAgo(-2.5),
      updatedAt: minutesAgo(1),
    }),
  ];

  it("prints a JSON array of the instances", async () => {
    const instances = instancesNow();
    const api = await serve((request) =>
      request.path === "/v1/instances" ? { json: { items: instances } } : undefined,
    );
    const result = await gpuctl(["instances", "--output", "json"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    const printed: unknown = JSON.parse(result.stdout);
    expect(Array.isArray(printed)).toBe(true);
    expect(printed).toEqual(instances);
  });

  it("prints a table with status, substatus, type, job, when cooling stops and terminates it, age and cost", async () => {
    const api = await serve(() => ({ json: { items: instancesNow() } }));
    const result = await gpuctl(["instances"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(
      result.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/\s+/)),
    ).toEqual([
      ["ID", "STATUS", "SUBSTATUS", "TYPE", "JOB", "STOPS", "TERMINATES", "UPDATED", "COST"],
      ["i-1", "EXECUTING", "-", "g5.xlarge", "job-1", "-", "-", "3m", "$0.50"],
      ["i-2", "CLOSING", "STOPPING", "p4d.24xlarge", "-", "-", "-", "30m", "unpriced"],
      ["i-3", "COOLING", "-", "g5.xlarge", "-", "4m", "3h", "1m", "$0.50"],
      ["i-4", "COOLING", "-", "g5.xlarge", "-", "-", "2m", "1m", "$0.50"],
    ]);
  });
});

describe("gpuctl without a control plane", () => {
  it("says the control plane is not reachable when nothing listens", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await gpuctl(["ls"], { endpoint });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `gpuctl: the control plane at ${endpoint} is not reachable (is \`npm start\` running?)\n`,
    });
  });

  it("says how to configure one when there is no config", async () => {
    const result = await gpuctl(["instances"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^gpuctl: no control plane configured: run `npm start` \(it writes .*no-such-config\.json\) or set GPUCTL_ENDPOINT\n$/,
    );
  });

  it("uses the config file's endpoint and sends its token as a bearer token", async () => {
    const api = await serve((request) =>
      request.headers.authorization === "Bearer from-file"
        ? { json: { items: [] } }
        : apiError(401, "UNAUTHORIZED", "missing token"),
    );
    const dir = await mkdtemp(join(tmpdir(), "gpuctl-cli-config-"));
    try {
      const config = join(dir, "config.json");
      await writeConfig(config, { endpoint: api.endpoint, token: "from-file" });
      const result = await gpuctl(["instances"], { env: { GPUCTL_CONFIG: config } });
      expect(result).toMatchObject({ code: 0, stdout: "no instances\n" });
      expect(api.requests).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("gpuctl with an unknown verb", () => {
  it.each([[["nosuch"]], [["nosuch", "--help"]], [["nosuch", "-h", "job-1"]]])(
    "refuses `gpuctl %j` as a usage error",
    async (args) => {
      const result = await gpuctl(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("unknown command 'nosuch'");
      expect(result.stdout).toBe("");
    },
  );

  it("still prints the help of a known verb and of gpuctl itself", async () => {
    for (const args of [["submit", "--help"], ["--help"], ["help", "submit"]]) {
      const result = await gpuctl(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Usage: gpuctl");
    }
  });
});
