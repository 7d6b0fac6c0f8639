/**
 * The instance agent, for real: ProcessCompute launches the agent's bundle as a process on a
 * temporary folder, the agent long-polls a fake control plane on loopback, and real shell
 * commands run in real process groups.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chown, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { JobAssignment } from "../../../agent/protocol.ts";
import { ProcessCompute } from "../../../lambdas/adapters/local/process-compute.ts";
import { AGENT_BUNDLE } from "../../../scripts/build-agent.ts";
import { FakeControlPlane, type TaskResult, waitFor } from "./fake-control-plane.ts";
import { groupMembers, processAlive } from "./processes.ts";

let cp: FakeControlPlane;
let compute: ProcessCompute;
let stateDir: string;
/** A server outside the control plane (a presigned S3 URL, say): it must never see the token. */
let outside: Server;
let outsideUrl: string;
const outsideAuthorization: Array<string | undefined> = [];

beforeAll(async () => {
  cp = await new FakeControlPlane().start();
  stateDir = await mkdtemp(join(tmpdir(), "gpuctl-agent-"));
  compute = new ProcessCompute({
    stateDir,
    gpuProbe: async () => false,
    agentEnv: { GPUCTL_HEARTBEAT_S: "0.1", GPUCTL_LOG_SYNC_S: "0.1" },
  });
  outside = createServer((request, response) => {
    outsideAuthorization.push(request.headers.authorization);
    if (request.url === "/bucket/data.csv") response.end("a,b\n1,2\n");
    else response.writeHead(404).end();
  }).listen(0, "127.0.0.1");
  await once(outside, "listening");
  outsideUrl = `http://127.0.0.1:${(outside.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await compute?.shutdown();
  await cp?.close();
  outside?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

let launches = 0;
const launch = async (): Promise<string> => {
  const instanceId = `local-${++launches}`;
  await compute.launch({
    instanceId,
    instanceType: "local",
    spot: false,
    region: "local",
    jobId: "job-1",
    owner: "ada",
    envHash: "sha256:env",
    agent: { endpoint: cp.url, token: cp.token },
  });
  return instanceId;
};

let jobs = 0;
const newJob = (fields: Partial<JobAssignment> = {}): JobAssignment =>
  cp.assignment(fields.jobId ?? `job-${++jobs}`, fields);

const home = (instanceId: string) => join(stateDir, "instances", instanceId);
const jobDir = (instanceId: string, jobId: string) => join(home(instanceId), "jobs", jobId);
const logsDir = (instanceId: string, jobId: string) => join(home(instanceId), "logs", jobId);
const read = (path: string) => readFile(path, "utf8");
const succeeded = (output: Record<string, unknown>): TaskResult => ({ ok: true, output });
const freePort = async (): Promise<number> => {
  const server = createNetServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
};
/** Whether a promise is still pending after `ms`. */
const pendingAfter = async (promise: Promise<unknown>, ms: number) => {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
};
/** Waits for the file a job writes its shell's pid (its process group) to. */
const leaderOf = (path: string) =>
  waitFor(`${path}`, async () =>
    existsSync(path) ? Number((await read(path)).trim()) || undefined : undefined,
  );

describe("the agent", () => {
  it("runs a training job: prepare, gearUp, sendInputs, run, returnResults", async () => {
    const id = await launch();
    cp.artifacts.set("inputs/model.bin", Buffer.from("weights;"));
    const job = newJob({
      envHash: "sha256:first",
      setup: 'echo "$GPUCTL_JOB_ID $GREETING" >> setup-runs.txt',
      env: { GREETING: "hello" },
      inputs: [
        { url: cp.artifactUrl("inputs/model.bin"), path: "model/model.bin" },
        { url: `${outsideUrl}/bucket/data.csv`, path: "data/data.csv" },
      ],
      run: [
        "mkdir -p out",
        "cat model/model.bin data/data.csv > out/result.txt",
        'echo "$GREETING from $GPUCTL_JOB_ID"',
        'echo step-1 > "$GPUCTL_CHECKPOINT_DIR/step.txt"',
        "(printenv GPUCTL_AGENT_TOKEN || echo none) > out/token.txt",
        'echo "$GPUCTL_CHECKPOINT_DIR" > out/env.txt',
        "echo a-warning >&2",
        "sleep 0.5",
      ].join(" && "),
      outputs: ["out"],
      checkpointDir: "ckpt",
    });
    const dir = jobDir(id, job.jobId);

    expect(await cp.task(id, "prepare", job)).toEqual(succeeded({ envCached: false }));
    expect(existsSync(dir)).toBe(true);

    expect(await cp.task(id, "gearUp", job)).toEqual(succeeded({}));
    const envDir = join(home(id), "envs", "sha256:first");
    expect(await read(join(envDir, "setup-runs.txt"))).toBe(`${job.jobId} hello\n`);

    expect(await cp.task(id, "sendInputs", job)).toEqual(succeeded({}));
    expect(await read(join(dir, "model/model.bin"))).toBe("weights;");
    expect(await read(join(dir, "data/data.csv"))).toBe("a,b\n1,2\n");
    expect(outsideAuthorization).toEqual([undefined]);

    const run = cp.queue(id, "run", job);
    expect(await run.result).toEqual(succeeded({ exitCode: 0 }));
    expect(cp.heartbeats.filter((token) => token === run.taskToken).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(await read(join(logsDir(id, job.jobId), "stdout.log"))).toBe(
      `hello from ${job.jobId}\n`,
    );
    expect(await read(join(logsDir(id, job.jobId), "stderr.log"))).toBe("a-warning\n");
    expect(await read(join(dir, "out/token.txt"))).toBe("none\n");
    expect(await read(join(dir, "out/env.txt"))).toBe(`${join(dir, "ckpt")}\n`);

    const results = await cp.task(id, "returnResults", job);
    const files = [
      "ckpt/step.txt",
      "logs/inputs.json",
      "logs/setup-stderr.log",
      "logs/setup-stdout.log",
      "logs/stderr.log",
      "logs/stdout.log",
      "out/env.txt",
      "out/result.txt",
      "out/token.txt",
    ];
    expect(results.ok && [...(results.output.files as string[])].sort()).toEqual(files);
    const uploaded = (path: string) => cp.uploads.get(`jobs/${job.jobId}/${path}`)?.toString();
    expect(uploaded("out/result.txt")).toBe("weights;a,b\n1,2\n");
    expect(uploaded("ckpt/step.txt")).toBe("step-1\n");
    expect(uploaded("logs/stdout.log")).toBe(`hello from ${job.jobId}\n`);
    // The model and data it was given, as the agent recorded them before fetching them.
    expect(JSON.parse(uploaded("logs/inputs.json") ?? "")).toEqual(
      job.inputs.map(({ path, url }) => ({ path, url })),
    );
    expect(cp.unauthorized).toEqual([]);

    const periods = cp.timeline.filter((period) => period.jobId === job.jobId && period.endedAt);
    expect(periods.map((period) => period.phase)).toEqual([
      "API Transfer & Server Setup",
      "M&D Serialization",
      "Env Gear up",
      "M&D Transfer",
      "M&D Deserialization",
      "Model Training",
      "Result Serialization",
      "Result Transfer",
    ]);
    for (const { startedAt, endedAt } of periods) {
      expect(new Date(startedAt).toISOString()).toBe(startedAt);
      expect(Date.parse(endedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(startedAt));
    }
    const training = periods.find((period) => period.phase === "Model Training");
    expect(
      Date.parse(training?.endedAt ?? "") - Date.parse(training?.startedAt ?? ""),
    ).toBeGreaterThanOrEqual(450);

    const agentLog = await read(join(home(id), "agent.log"));
    for (const command of ["prepare", "gearUp", "sendInputs", "returnResults"])
      expect(agentLog).toMatch(new RegExp(`${command} job=${job.jobId} ok`));
    expect(agentLog).not.toContain(cp.token);
  });

  it("runs an env's setup once per instance, and says so in polls and prepare", async () => {
    const id = await launch();
    const setup = "echo ran >> setup-runs.txt";
    const first = newJob({ envHash: "sha256:shared", setup });
    const second = newJob({ envHash: "sha256:shared", setup });
    const other = newJob({ envHash: "sha256:other", setup });

    expect(await cp.task(id, "prepare", first)).toEqual(succeeded({ envCached: false }));
    expect(await cp.task(id, "gearUp", first)).toEqual(succeeded({}));
    expect(await cp.task(id, "prepare", second)).toEqual(succeeded({ envCached: true }));
    expect(await cp.task(id, "gearUp", second)).toEqual(succeeded({}));
    expect(await cp.task(id, "prepare", other)).toEqual(succeeded({ envCached: false }));

    expect(await read(join(home(id), "envs/sha256:shared/setup-runs.txt"))).toBe("ran\n");
    const gearUps = cp.timeline.filter((period) => period.phase === "Env Gear up");
    expect(gearUps.map((period) => period.jobId)).toContain(first.jobId);
    expect(gearUps.map((period) => period.jobId)).not.toContain(second.jobId);
    await waitFor("a poll listing the cached env", () =>
      cp.pollsOf(id).some((poll) => poll.envHashes.includes("sha256:shared")),
    );
    expect(cp.pollsOf(id).every((poll) => poll.waitS === 20)).toBe(true);
    expect(cp.pollsOf(id).some((poll) => poll.envHashes.includes("sha256:other"))).toBe(false);
  });

  it("removes an earlier job's folder and logs before the next job, and keeps the env cache", async () => {
    const id = await launch();
    const setup = "echo ran >> setup-runs.txt";
    const first = newJob({ envHash: "sha256:wiped", setup, run: "echo secret > mine.txt" });
    await cp.task(id, "prepare", first);
    await cp.task(id, "gearUp", first);
    expect(await cp.task(id, "run", first)).toEqual(succeeded({ exitCode: 0 }));
    expect(await read(join(jobDir(id, first.jobId), "mine.txt"))).toBe("secret\n");

    const retried = await cp.task(id, "prepare", first);
    expect(retried).toEqual(succeeded({ envCached: true }));
    expect(existsSync(join(jobDir(id, first.jobId), "mine.txt"))).toBe(true);

    const second = newJob({ envHash: "sha256:wiped", setup });
    expect(await cp.task(id, "prepare", second)).toEqual(succeeded({ envCached: true }));
    expect(existsSync(jobDir(id, first.jobId))).toBe(false);
    expect(existsSync(logsDir(id, first.jobId))).toBe(false);
    expect(existsSync(jobDir(id, second.jobId))).toBe(true);
    expect(await read(join(home(id), "envs/sha256:wiped/setup-runs.txt"))).toBe("ran\n");
  });

  it("reports any exit code of the run as its output, a signal as 128 + n", async () => {
    const id = await launch();
    const failing = newJob({ run: "echo boom >&2; exit 3" });
    await cp.task(id, "prepare", failing);
    expect(await cp.task(id, "run", failing)).toEqual(succeeded({ exitCode: 3 }));
    expect(await read(join(logsDir(id, failing.jobId), "stderr.log"))).toBe("boom\n");

    const killed = newJob({ run: "kill -KILL $$" });
    expect(await cp.task(id, "run", killed)).toEqual(succeeded({ exitCode: 137 }));
  });

  it("fails gearUp with the tail of stderr, and does not cache the env", async () => {
    const id = await launch();
    const job = newJob({
      envHash: "sha256:broken",
      setup:
        "echo first-line >&2; head -c 5000 /dev/zero | tr '\\0' x >&2; echo >&2; echo last-line >&2; exit 1",
    });
    await cp.task(id, "prepare", job);
    const result = await cp.task(id, "gearUp", job);
    expect(result).toMatchObject({ ok: false, error: "gpuctl.EnvFailed" });
    const cause = result.ok ? "" : result.cause;
    expect(cause.endsWith("last-line")).toBe(true);
    expect(cause).not.toContain("first-line");
    expect(cause.length).toBeGreaterThan(1_000);
    expect(cause.length).toBeLessThanOrEqual(2_048);
    expect(await cp.task(id, "prepare", newJob({ envHash: "sha256:broken" }))).toEqual(
      succeeded({ envCached: false }),
    );
  });

  it("fails sendInputs naming the URL and its status, and returnResults on a refused upload", async () => {
    const id = await launch();
    const missing = newJob({ inputs: [{ url: cp.artifactUrl("inputs/nothing"), path: "x" }] });
    const noInput = await cp.task(id, "sendInputs", missing);
    expect(noInput).toMatchObject({ ok: false, error: "gpuctl.InputsFailed" });
    expect(noInput.ok || noInput.cause).toContain(cp.artifactUrl("inputs/nothing"));
    expect(noInput.ok || noInput.cause).toContain("404");

    // An input named by its content must be that content.
    const named = createHash("sha256").update("the real data").digest("hex");
    cp.artifacts.set(`inputs/${named}`, Buffer.from("other data"));
    const swapped = newJob({
      inputs: [{ url: cp.artifactUrl(`inputs/${named}`), path: "d", sha256: named }],
    });
    const tampered = await cp.task(id, "sendInputs", swapped);
    expect(tampered).toMatchObject({ ok: false, error: "gpuctl.InputsFailed" });
    expect(tampered.ok || tampered.cause).toContain(
      `sha256 is ${createHash("sha256").update("other data").digest("hex")}`,
    );

    const escaping = newJob({ inputs: [{ url: `${outsideUrl}/bucket/data.csv`, path: "../x" }] });
    const refused = await cp.task(id, "sendInputs", escaping);
    expect(refused).toMatchObject({ ok: false, error: "gpuctl.InputsFailed" });
    expect(refused.ok || refused.cause).toContain("leaves the job folder");

    const job = newJob({ run: "mkdir out && echo 1 > out/a.txt", outputs: ["out"] });
    await cp.task(id, "prepare", job);
    await cp.task(id, "run", job);
    cp.failUploads.set(`jobs/${job.jobId}/out/a.txt`, 403);
    const results = await cp.task(id, "returnResults", job);
    expect(results).toMatchObject({ ok: false, error: "gpuctl.ResultsFailed" });
    expect(results.ok || results.cause).toContain("403");
  });

  it("aborts a running job: its whole process group dies and the run is not reported", async () => {
    const id = await launch();
    const job = newJob({ run: "echo $$ > leader.pid; sleep 60 & sleep 60; wait" });
    await cp.task(id, "prepare", job);
    const run = cp.queue(id, "run", job);
    const pgid = await leaderOf(join(jobDir(id, job.jobId), "leader.pid"));
    await waitFor("both sleeps", () => groupMembers(pgid).length >= 3);

    cp.send(id, { type: "abort", jobId: job.jobId });
    await waitFor("the job's process group to die", () => groupMembers(pgid).length === 0);
    expect(await pendingAfter(run.result, 300)).toBe(true);
    expect(cp.strayReports).toEqual([]);
    // The agent is still there for the next command.
    expect(await cp.task(id, "prepare", newJob())).toMatchObject({ ok: true });
  });

  it("serves an inference job: reports its endpoint once healthy, runs until aborted", async () => {
    const id = await launch();
    const port = await freePort();
    cp.artifacts.set(
      "inputs/serve.js",
      Buffer.from(`
        const http = require("node:http");
        setTimeout(() => http.createServer((request, response) => {
          response.end(request.url === "/healthz" ? "ok" : "prediction");
        }).listen(${port}, "127.0.0.1"), 300);
      `),
    );
    const job = newJob({
      kind: "inference",
      inputs: [{ url: cp.artifactUrl("inputs/serve.js"), path: "serve.cjs" }],
      run: 'echo $$ > leader.pid; exec "$NODE" serve.cjs',
      env: { NODE: process.execPath },
      serve: { host: "127.0.0.1", port, healthPath: "/healthz" },
    });
    await cp.task(id, "prepare", job);
    await cp.task(id, "sendInputs", job);
    const run = cp.queue(id, "run", job);
    const endpoint = await waitFor("the endpoint report", () =>
      cp.endpoints.find((report) => report.jobId === job.jobId),
    );
    expect(endpoint.url).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(`${endpoint.url}/predict`)).text()).toBe("prediction");
    expect(await pendingAfter(run.result, 200)).toBe(true);

    const pgid = await leaderOf(join(jobDir(id, job.jobId), "leader.pid"));
    cp.send(id, { type: "abort", jobId: job.jobId });
    await waitFor("the server to die", () => groupMembers(pgid).length === 0);
    await expect(fetch(endpoint.url)).rejects.toThrow();
    expect(await pendingAfter(run.result, 200)).toBe(true);
  });

  it("on SIGTERM uploads the running job's checkpoint, kills the job and exits 0", async () => {
    const id = await launch();
    const job = newJob({
      run: 'echo $$ > leader.pid; echo 7 > "$GPUCTL_CHECKPOINT_DIR/step-7.txt"; sleep 60',
      checkpointDir: "checkpoints",
    });
    await cp.task(id, "prepare", job);
    const run = cp.queue(id, "run", job);
    const pgid = await leaderOf(join(jobDir(id, job.jobId), "leader.pid"));
    const agentPid = compute.describe(id)?.pid ?? 0;
    expect(processAlive(agentPid)).toBe(true);
    // What an instance runs: systemd sends it SIGTERM as the instance stops.
    expect((await read(`/proc/${agentPid}/cmdline`)).split("\0")).toContain(AGENT_BUNDLE);

    await compute.stop(id);
    expect(cp.uploads.get(`jobs/${job.jobId}/checkpoints/step-7.txt`)?.toString()).toBe("7\n");
    expect(groupMembers(pgid)).toEqual([]);
    expect(processAlive(agentPid)).toBe(false);
    const agentLog = await read(join(home(id), "agent.log"));
    expect(agentLog).toMatch(
      /SIGTERM: stopping[\s\S]*checkpoint job=\S+ uploaded 1 files[\s\S]*stopped\n$/,
    );
    expect(await pendingAfter(run.result, 100)).toBe(true);
  });

  it("uploads a failed run's checkpoint before it reports the exit, for a retry elsewhere", async () => {
    const id = await launch();
    const job = newJob({
      run: 'echo 4 > "$GPUCTL_CHECKPOINT_DIR/step.txt"; exit 3',
      checkpointDir: "ckpt",
    });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual(succeeded({ exitCode: 3 }));
    expect(cp.uploads.get(`jobs/${job.jobId}/ckpt/step.txt`)?.toString()).toBe("4\n");
  });

  it("on preempt lets the run save its checkpoint on SIGTERM, uploads it, and reports nothing", async () => {
    const id = await launch();
    const job = newJob({
      run: [
        "echo $$ > leader.pid",
        `trap 'echo 9 > "$GPUCTL_CHECKPOINT_DIR/step.txt"; exit 143' TERM`,
        "touch ready",
        "while :; do sleep 0.05; done",
      ].join("\n"),
      checkpointDir: "ckpt",
    });
    await cp.task(id, "prepare", job);
    const run = cp.queue(id, "run", job);
    const pgid = await leaderOf(join(jobDir(id, job.jobId), "leader.pid"));
    await waitFor("the trap", () => existsSync(join(jobDir(id, job.jobId), "ready")));

    cp.send(id, { type: "preempt", jobId: job.jobId });
    const saved = `jobs/${job.jobId}/ckpt/step.txt`;
    await waitFor("the checkpoint's upload", () => cp.uploads.has(saved));
    expect(cp.uploads.get(saved)?.toString()).toBe("9\n");
    expect(groupMembers(pgid)).toEqual([]);
    expect(await pendingAfter(run.result, 300)).toBe(true);
    expect(cp.strayReports).toEqual([]);

    // The next attempt, on another instance, finds it in its checkpoint folder before it runs.
    const next = await launch();
    cp.artifacts.set(saved, Buffer.from("9\n"));
    const resumed = newJob({
      jobId: job.jobId,
      checkpointDir: "ckpt",
      checkpoint: [{ path: "ckpt/step.txt", url: cp.artifactUrl(saved) }],
      run: 'cat "$GPUCTL_CHECKPOINT_DIR/step.txt"',
    });
    await cp.task(next, "prepare", resumed);
    expect(await cp.task(next, "sendInputs", resumed)).toEqual(succeeded({}));
    expect(await cp.task(next, "run", resumed)).toEqual(succeeded({ exitCode: 0 }));
    expect(await read(join(logsDir(next, job.jobId), "stdout.log"))).toBe("9\n");

    // A checkpoint file must lie in the checkpoint folder: nothing else is fetched.
    const stray = newJob({
      checkpointDir: "ckpt",
      checkpoint: [{ path: "run.sh", url: cp.artifactUrl(saved) }],
    });
    await cp.task(next, "prepare", stray);
    const refused = await cp.task(next, "sendInputs", stray);
    expect(refused).toMatchObject({ ok: false, error: "gpuctl.InputsFailed" });
    expect(refused.ok || refused.cause).toContain("not in the checkpoint folder");
  });

  it("reconnects to a control plane that restarts, and carries on", async () => {
    let restarting = await new FakeControlPlane(cp.token).start();
    onTestFinished(() => restarting.close());
    const id = `local-restarting-${++launches}`;
    await compute.launch({
      instanceId: id,
      instanceType: "local",
      spot: false,
      region: "local",
      jobId: "job-1",
      owner: "ada",
      envHash: "sha256:env",
      agent: { endpoint: restarting.url, token: restarting.token },
    });
    await waitFor("a first poll", () => restarting.pollsOf(id).length > 0);
    const port = Number(new URL(restarting.url).port);
    await restarting.close();
    await new Promise((resolve) => setTimeout(resolve, 600)); // the agent meets refused connections
    restarting = await new FakeControlPlane(cp.token).start(port);
    const job = restarting.assignment(`job-${++jobs}`);
    expect(await restarting.task(id, "prepare", job)).toEqual(succeeded({ envCached: false }));
    expect(await read(join(home(id), "agent.log"))).toMatch(
      /poll: .*retrying[\s\S]*poll: connected/,
    );
  });

  it("keeps polling through a control plane that does not know the instance yet", async () => {
    const id = await launch();
    await waitFor("a first poll", () => cp.pollsOf(id).length > 0);
    cp.unknownInstances.add(id);
    const before = cp.pollsOf(id).length;
    // Wake the held poll so the next ones get 404s.
    cp.send(id, { type: "abort", jobId: "nothing" });
    await waitFor("polls answered 404", () => cp.pollsOf(id).length >= before + 2);
    cp.unknownInstances.delete(id);
    expect(await cp.task(id, "prepare", newJob())).toEqual(succeeded({ envCached: false }));
  });
});

/** The environment a job's command saw, as it wrote it with `env -0`. */
const envOf = async (path: string): Promise<Record<string, string>> =>
  Object.fromEntries(
    (await read(path))
      .split("\0")
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
const asRoot = process.getuid?.() === 0;

describe("the agent keeps jobs away from its credentials and from each other", () => {
  it("gives a job's commands a clean environment, and no way to the agent's token", async () => {
    process.env.GPUCTL_STATE_DIR = stateDir; // what a control plane has, and its agents must not
    onTestFinished(() => {
      delete process.env.GPUCTL_STATE_DIR;
    });
    const id = await launch();
    const agentPid = compute.describe(id)?.pid ?? 0;
    const job = newJob({
      setup: 'env -0 > "$HOME/setup-env"',
      env: { AGENT_PID: String(agentPid), GREETING: "hello" },
      run: [
        "mkdir -p out",
        "env -0 > out/env",
        "id -u > out/uid",
        "(cat /proc/$AGENT_PID/environ || echo unreadable) > out/agent-environ 2>/dev/null",
        '(cat "$GPUCTL_AGENT_HOME/agent.token" || echo unreadable) > out/token 2>/dev/null',
        '(cat "$GPUCTL_AGENT_HOME/agent.log" || echo unreadable) > out/agent-log 2>/dev/null',
      ].join("; "),
      outputs: ["out"],
    });
    const dir = jobDir(id, job.jobId);
    for (const step of ["prepare", "gearUp", "run"] as const)
      expect(await cp.task(id, step, job)).toMatchObject({ ok: true });

    const agentEnviron = await readFile(`/proc/${agentPid}/environ`, "utf8");
    expect(agentEnviron).not.toContain(cp.token);
    expect(agentEnviron).not.toContain("GPUCTL_STATE_DIR");
    expect(existsSync(join(home(id), "agent.token"))).toBe(false);

    const env = await envOf(join(dir, "out/env"));
    const allowed = new Set([
      ...["PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"],
      ...["HOME", "PWD", "SHLVL", "_", "OLDPWD", "AGENT_PID", "GREETING"],
      ...["GPUCTL_JOB_ID", "GPUCTL_AGENT_HOME", "GPUCTL_ENV_DIR"],
    ]);
    expect(Object.keys(env).filter((name) => !allowed.has(name))).toEqual([]);
    expect(env.HOME).toBe(dir);
    expect(env.GREETING).toBe("hello");
    expect(Object.values(env).join("\n")).not.toContain(cp.token);
    const setupEnv = await envOf(join(home(id), "envs", job.envHash, "setup-env"));
    expect(Object.keys(setupEnv).filter((name) => !allowed.has(name))).toEqual([]);

    for (const file of ["out/token", "out/agent-log"])
      expect(await read(join(dir, file))).toBe("unreadable\n");
    if (asRoot) {
      expect(Number(await read(join(dir, "out/uid")))).not.toBe(0);
      expect(await read(join(dir, "out/agent-environ"))).toBe("unreadable\n");
    }
  });

  it.runIf(asRoot)(
    "runs each job as a user of its own, kept out of other jobs' folders",
    async () => {
      const id = await launch();
      const first = newJob({ run: "echo secret > mine.txt; sleep 60 & echo $! > sleeper.pid" });
      await cp.task(id, "prepare", first);
      expect(await cp.task(id, "run", first)).toEqual(succeeded({ exitCode: 0 }));
      // What the job left running in the background is gone with its run.
      const sleeper = Number(await read(join(jobDir(id, first.jobId), "sleeper.pid")));
      await waitFor("the job's leftover to die", () => !processAlive(sleeper));
      const firstUid = (await stat(jobDir(id, first.jobId))).uid;

      const second = newJob({
        run: [
          `(cat ../${first.jobId}/mine.txt || echo unreadable) > theirs.txt 2>/dev/null`,
          "id -u > uid",
        ].join("; "),
      });
      await cp.task(id, "prepare", second);
      expect(await cp.task(id, "run", second)).toEqual(succeeded({ exitCode: 0 }));
      expect(await read(join(jobDir(id, second.jobId), "theirs.txt"))).toBe("unreadable\n");
      const secondUid = (await stat(jobDir(id, second.jobId))).uid;
      expect(firstUid).not.toBe(secondUid);
      expect(Number(await read(join(jobDir(id, second.jobId), "uid")))).toBe(secondUid);
    },
  );

  it("returns no file through a link that leaves the job folder", async () => {
    const id = await launch();
    const job = newJob({
      run: [
        "mkdir -p out",
        "echo fine > out/fine.txt",
        "ln -s fine.txt out/alias.txt",
        "ln -s /etc/hostname out/host.txt",
        `ln -s ${home(id)} out/instance`,
        "ln -s /etc up",
      ].join(" && "),
      outputs: ["out", "up"],
    });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual(succeeded({ exitCode: 0 }));
    const results = await cp.task(id, "returnResults", job);
    expect(results).toMatchObject({
      ok: true,
      output: {
        files: [
          "out/alias.txt",
          "out/fine.txt",
          "logs/inputs.json",
          "logs/stderr.log",
          "logs/stdout.log",
        ],
        missing: ["up"],
      },
    });
  });

  it("fetches no input through a link a job left in its folder", async () => {
    const id = await launch();
    // Somewhere the job's user may write, outside its folder.
    const outside = join(tmpdir(), `gpuctl-planted-${process.pid}-${launches}`);
    onTestFinished(() => rm(outside, { recursive: true, force: true }));
    const job = newJob({ run: `mkdir -p ${outside} && ln -s ${outside} data` });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual(succeeded({ exitCode: 0 }));
    cp.artifacts.set("inputs/planted", Buffer.from("x"));
    const retry = { ...job, inputs: [{ url: cp.artifactUrl("inputs/planted"), path: "data/x" }] };
    const fetched = await cp.task(id, "sendInputs", retry);
    expect(fetched).toMatchObject({ ok: false, error: "gpuctl.InputsFailed" });
    expect(fetched.ok || fetched.cause).toContain("leaves the job folder");
    expect(existsSync(join(outside, "x"))).toBe(false);
  });
});

describe("the agent returns a job's logs whatever the outcome", () => {
  it("uploads the logs of a failed run before it reports the exit code", async () => {
    const id = await launch();
    const job = newJob({ run: "echo boom >&2; exit 3" });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual(succeeded({ exitCode: 3 }));
    expect(cp.uploads.get(`jobs/${job.jobId}/logs/stderr.log`)?.toString()).toBe("boom\n");
  });

  it("uploads the logs of a failed setup before it reports the failure", async () => {
    const id = await launch();
    const job = newJob({ envHash: "sha256:fails", setup: "echo no-env >&2; exit 1" });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "gearUp", job)).toMatchObject({ ok: false });
    expect(cp.uploads.get(`jobs/${job.jobId}/logs/setup-stderr.log`)?.toString()).toBe("no-env\n");
  });

  it("uploads the logs of an aborted run", async () => {
    const id = await launch();
    const job = newJob({ run: "echo started; echo $$ > leader.pid; sleep 60" });
    await cp.task(id, "prepare", job);
    cp.queue(id, "run", job);
    await leaderOf(join(jobDir(id, job.jobId), "leader.pid"));
    cp.send(id, { type: "abort", jobId: job.jobId });
    await waitFor("the aborted run's logs", () =>
      cp.uploads.get(`jobs/${job.jobId}/logs/stdout.log`)?.toString(),
    );
    expect(cp.uploads.get(`jobs/${job.jobId}/logs/stdout.log`)?.toString()).toBe("started\n");
  });
});

describe("the agent uploads a job's logs while it runs", () => {
  const uploaded = (jobId: string, name: string) =>
    cp.uploads.get(`jobs/${jobId}/logs/${name}`)?.toString();

  it("uploads stdout and stderr as they grow, before the run ends, and whole at its end", async () => {
    const id = await launch();
    // The run waits for the test to see its first lines, then writes more and ends.
    const job = newJob({
      run: "echo first; echo warn >&2; while [ ! -e go ]; do sleep 0.05; done; echo second",
    });
    await cp.task(id, "prepare", job);
    const run = cp.queue(id, "run", job);
    await waitFor("the running job's stdout", () => uploaded(job.jobId, "stdout.log"));
    await waitFor("the running job's stderr", () => uploaded(job.jobId, "stderr.log"));
    expect(uploaded(job.jobId, "stdout.log")).toBe("first\n");
    expect(uploaded(job.jobId, "stderr.log")).toBe("warn\n");
    await writeFile(join(jobDir(id, job.jobId), "go"), "");
    expect(await run.result).toEqual(succeeded({ exitCode: 0 }));
    // The last upload came before the report.
    expect(uploaded(job.jobId, "stdout.log")).toBe("first\nsecond\n");
  });

  it("uploads the setup's logs while it runs", async () => {
    const id = await launch();
    const job = newJob({
      envHash: `sha256:setup-${jobs}`,
      setup: 'echo installing; while [ ! -e "$GPUCTL_ENV_DIR/go" ]; do sleep 0.05; done',
    });
    await cp.task(id, "prepare", job);
    const gearUp = cp.queue(id, "gearUp", job);
    expect(await waitFor("the setup's stdout", () => uploaded(job.jobId, "setup-stdout.log"))).toBe(
      "installing\n",
    );
    await writeFile(join(home(id), "envs", job.envHash, "go"), "");
    expect(await gearUp.result).toEqual(succeeded({}));
  });
});

describe("the agent serves a deployment on the port it was given", () => {
  const server = `require("node:http").createServer((q, r) => r.end("ok:" + process.env.PORT)).listen(Number(process.env.PORT), "127.0.0.1")`;

  it("tells the serving command its port in PORT, and reports the host and port it was given", async () => {
    const id = await launch();
    const port = await freePort();
    const job = newJob({
      kind: "inference",
      run: `exec "$NODE" -e '${server}'`,
      env: { NODE: process.execPath, PORT: "1" },
      serve: { host: "localhost", port, healthPath: "/" },
    });
    await cp.task(id, "prepare", job);
    cp.queue(id, "run", job);
    const endpoint = await waitFor("the endpoint report", () =>
      cp.endpoints.find((report) => report.jobId === job.jobId),
    );
    expect(endpoint.url).toBe(`http://localhost:${port}`);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe(`ok:${port}`);
    cp.send(id, { type: "abort", jobId: job.jobId });
  });

  it("fails the run when another process holds its port, and reports no endpoint", async () => {
    const id = await launch();
    const taken = createServer((_, response) => response.end("not the job")).listen(0);
    await once(taken, "listening");
    onTestFinished(() => {
      taken.close();
    });
    const { port } = taken.address() as AddressInfo;
    const job = newJob({
      kind: "inference",
      run: `exec "$NODE" -e '${server}'`,
      env: { NODE: process.execPath },
      serve: { host: "127.0.0.1", port, healthPath: "/" },
    });
    await cp.task(id, "prepare", job);
    const run = await cp.task(id, "run", job);
    expect(run).toMatchObject({ ok: false, error: "gpuctl.RunFailed" });
    expect(run.ok || run.cause).toContain(`port ${port} is in use`);
    expect(cp.endpoints.filter((report) => report.jobId === job.jobId)).toEqual([]);
  });
});

describe("an agent that is not root", () => {
  it.runIf(asRoot)("says in its log that its jobs run as its own user", async () => {
    const nobody = 65_534;
    const agentHome = await mkdtemp(join(tmpdir(), "gpuctl-unprivileged-"));
    onTestFinished(() => rm(agentHome, { recursive: true, force: true }));
    await chown(agentHome, nobody, nobody);
    const tokenFile = join(agentHome, "agent.token");
    await writeFile(tokenFile, cp.token, { mode: 0o600 });
    await chown(tokenFile, nobody, nobody);
    const id = `local-unprivileged-${++launches}`;
    const agent = spawn(process.execPath, [AGENT_BUNDLE], {
      uid: nobody,
      gid: nobody,
      env: {
        PATH: process.env.PATH,
        GPUCTL_ENDPOINT: cp.url,
        GPUCTL_AGENT_TOKEN_FILE: tokenFile,
        GPUCTL_INSTANCE_ID: id,
        GPUCTL_AGENT_HOME: agentHome,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    onTestFinished(() => {
      agent.kill("SIGKILL");
    });
    let output = "";
    agent.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const job = newJob({ run: "id -u > uid" });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual(succeeded({ exitCode: 0 }));
    expect(output).toContain(`not root (uid ${nobody}): jobs run as this agent's user`);
    expect(Number(await read(join(agentHome, "jobs", job.jobId, "uid")))).toBe(nobody);
  });
});
