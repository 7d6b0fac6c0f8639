/**
 * The agent uploads a job's logs while its commands run, for real: the agent's bundle as a
 * process (ProcessCompute), a fake control plane on loopback, real shell commands.
 */
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessCompute } from "../../../lambdas/adapters/local/process-compute.ts";
import { FakeControlPlane, waitFor } from "./fake-control-plane.ts";

const LOG_MAX_BYTES = 1000;

let cp: FakeControlPlane;
let compute: ProcessCompute;
let stateDir: string;

beforeAll(async () => {
  cp = await new FakeControlPlane().start();
  stateDir = await mkdtemp(join(tmpdir(), "gpuctl-agent-logs-"));
  compute = new ProcessCompute({
    stateDir,
    gpuProbe: async () => false,
    agentEnv: {
      GPUCTL_HEARTBEAT_S: "0.1",
      GPUCTL_LOG_SYNC_S: "0.1",
      GPUCTL_LOG_MAX_BYTES: String(LOG_MAX_BYTES),
    },
  });
});

afterAll(async () => {
  await compute?.shutdown();
  await cp?.close();
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
const jobDir = (instanceId: string, jobId: string) =>
  join(stateDir, "instances", instanceId, "jobs", jobId);
const uploaded = (jobId: string, name: string) =>
  cp.uploads.get(`jobs/${jobId}/logs/${name}`)?.toString();

describe("the agent uploads a job's logs while it runs", () => {
  it("uploads stdout and stderr as they grow, before the run ends, and whole at its end", async () => {
    const id = await launch();
    // The run waits for the test to see its first lines, then writes more and ends.
    const job = cp.assignment(`job-${++jobs}`, {
      run: "echo first; echo warn >&2; while [ ! -e go ]; do sleep 0.05; done; echo second",
    });
    await cp.task(id, "prepare", job);
    const run = cp.queue(id, "run", job);
    await waitFor("the running job's stdout", () => uploaded(job.jobId, "stdout.log"));
    await waitFor("the running job's stderr", () => uploaded(job.jobId, "stderr.log"));
    expect(uploaded(job.jobId, "stdout.log")).toBe("first\n");
    expect(uploaded(job.jobId, "stderr.log")).toBe("warn\n");
    await writeFile(join(jobDir(id, job.jobId), "go"), "");
    expect(await run.result).toEqual({ ok: true, output: { exitCode: 0 } });
    // The last upload came before the report.
    expect(uploaded(job.jobId, "stdout.log")).toBe("first\nsecond\n");
  });

  it("uploads the setup's logs while it runs", async () => {
    const id = await launch();
    const job = cp.assignment(`job-${++jobs}`, {
      envHash: `sha256:setup-${jobs}`,
      setup: 'echo installing; while [ ! -e "$GPUCTL_ENV_DIR/go" ]; do sleep 0.05; done',
    });
    await cp.task(id, "prepare", job);
    const gearUp = cp.queue(id, "gearUp", job);
    expect(await waitFor("the setup's stdout", () => uploaded(job.jobId, "setup-stdout.log"))).toBe(
      "installing\n",
    );
    await writeFile(join(stateDir, "instances", id, "envs", job.envHash, "go"), "");
    expect(await gearUp.result).toEqual({ ok: true, output: {} });
  });

  it("uploads a log over the limit as its last part, saying so, and the job still succeeds", async () => {
    const id = await launch();
    const job = cp.assignment(`job-${++jobs}`, {
      run: "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo the-end",
    });
    await cp.task(id, "prepare", job);
    expect(await cp.task(id, "run", job)).toEqual({ ok: true, output: { exitCode: 0 } });
    const log = uploaded(job.jobId, "stdout.log") ?? "";
    expect(Buffer.byteLength(log)).toBeLessThanOrEqual(LOG_MAX_BYTES);
    expect(log).toMatch(
      /^\[gpuctl: the log outgrew 1000 bytes: its first \d+ bytes are left out\]\n/,
    );
    expect(log.endsWith("line-299\nthe-end\n")).toBe(true);
    // The copies it sent are gone.
    expect(await readdir(join(stateDir, "instances", id, "scratch"))).toEqual([]);
  });
});
