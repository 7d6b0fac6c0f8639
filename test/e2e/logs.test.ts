/**
 * A job's logs on the real local control plane, through the CLI: the agent uploads them as
 * the job writes them, and `gpuctl logs` shows them while the job runs and after it ended,
 * a failed job's stderr too.
 */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GPUCTL, gpuctl } from "../unit/cli/run-gpuctl.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dir: string;

beforeAll(async () => {
  plane = await startTestControlPlane({
    agentEnv: { GPUCTL_HEARTBEAT_S: "1", GPUCTL_LOG_SYNC_S: "0.2" },
  });
  dir = await mkdtemp(join(tmpdir(), "gpuctl-logs-"));
  // The job's own user (when the agent runs as root) looks here for the test's signal.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await plane?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = () => ({ GPUCTL_ENDPOINT: plane.endpoint, GPUCTL_TOKEN: plane.userToken });

describe("gpuctl logs on the local control plane", () => {
  it("shows a failed job's stdout, and its stderr on stderr", async () => {
    const submitted = await plane.client.submitJob(
      trainingSpec({
        name: "fails",
        backoffLimit: 0,
        setup: "echo installing",
        run: "echo 'epoch 1 loss 0.9'; echo 'ValueError: learning rate must be positive' >&2; exit 2",
      }),
    );
    expect(await plane.finished(submitted.id)).toMatchObject({ phase: "FAILED", exitCode: 2 });

    const shown = await gpuctl(["logs", submitted.id], { env: cli() });
    expect(shown).toEqual({
      code: 0,
      stdout: "epoch 1 loss 0.9\n",
      stderr: "ValueError: learning rate must be positive\n",
    });
    const setup = await gpuctl(["logs", submitted.id, "--stream", "setup-stdout"], { env: cli() });
    expect(setup).toMatchObject({ code: 0, stdout: "installing\n" });
  });

  it("follows a running job's stdout with -f: lines show before the job ends", async () => {
    const go = join(dir, "go");
    const submitted = await plane.client.submitJob(
      trainingSpec({
        name: "follows",
        run: `echo step-1; while [ ! -e ${go} ]; do sleep 0.1; done; echo step-2`,
      }),
    );
    const follower = spawn(process.execPath, [GPUCTL, "logs", "-f", submitted.id], {
      env: { ...process.env, GPUCTL_CONFIG: join(dir, "no-config.json"), ...cli() },
    });
    let stdout = "";
    follower.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => follower.on("close", resolve));
    try {
      await plane.waitFor(submitted.id, () => stdout.includes("step-1\n"));
      // The job waits for the test's signal: it is still running while its first line shows.
      expect(await plane.client.getJob(submitted.id)).toMatchObject({ phase: "TRAINING" });
      expect(stdout).toBe("step-1\n");
      await writeFile(go, "");
      expect(await exited).toBe(0);
      expect(stdout).toBe("step-1\nstep-2\n");
      expect(await plane.client.getJob(submitted.id)).toMatchObject({ phase: "COMPLETED" });
    } finally {
      follower.kill();
    }
  });

  it("answers another user's job 404, as one that does not exist", async () => {
    const submitted = await plane.client.submitJob(trainingSpec({ name: "private" }));
    await plane.finished(submitted.id);
    const bob = await plane.client.addUser({ email: "bob@example.com" });
    const stranger = await gpuctl(["logs", submitted.id, "--stream", "all"], {
      env: { GPUCTL_ENDPOINT: plane.endpoint, GPUCTL_TOKEN: bob.token.token },
    });
    expect(stranger).toEqual({
      code: 1,
      stdout: "",
      stderr: `gpuctl: job ${submitted.id} not found\n`,
    });
  });
});
