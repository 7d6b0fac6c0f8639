/**
 * Replay, deploy and cost through the CLI against a real local control plane with real agent
 * processes: a finished training job replayed with --wait (or the SDK's replayJob with its
 * folders) lands the new job's checkpoints and logs where it is told; a deployment is waited for until it serves; each job and instance
 * shows what it cost (local instances are on no bill: $0, with its parts timed).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobView } from "../../sdk/api-types.ts";
import { gpuctl } from "../unit/cli/run-gpuctl.ts";
import { servingSpec, startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dir: string;
beforeAll(async () => {
  plane = await startTestControlPlane();
  dir = await mkdtemp(join(tmpdir(), "gpuctl-e2e-replay-"));
});
afterAll(async () => {
  await plane?.stop();
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  gpuctl(args, { endpoint: plane.endpoint, env: { GPUCTL_TOKEN: plane.userToken }, cwd: dir });

describe("replay, deploy and cost on the local control plane", () => {
  it("replays a finished training job on its pinned input, and downloads the replay's checkpoints and logs", async () => {
    const { sha256 } = await plane.client.uploadInput(new TextEncoder().encode("x,y\n1,2\n"));
    const spec = trainingSpec({
      inputs: [{ sha256, path: "data/points.csv" }],
      run: `test -s data/points.csv && ${trainingSpec().run}`,
    });
    const recorded = await plane.finished((await plane.client.submitJob(spec)).id);
    expect(recorded.phase).toBe("COMPLETED");

    const result = await cli([
      "replay",
      recorded.id,
      "--description",
      "does it converge again?",
      "--wait",
      "--ckpt-dir",
      "ckpt",
      "--log-dir",
      "logs-here",
      "-o",
      "json",
    ]);

    expect(result.code, result.stderr).toBe(0);
    const replay = JSON.parse(result.stdout) as JobView;
    expect(replay).toMatchObject({
      phase: "COMPLETED",
      replayOf: recorded.id,
      description: "does it converge again?",
    });
    expect(replay.id).not.toBe(recorded.id);
    expect((await readdir(join(dir, "ckpt", replay.id, "checkpoints"))).sort()).toEqual([
      "epoch-0.json",
      "epoch-1.json",
      "epoch-2.json",
    ]);
    expect(
      await readFile(join(dir, "logs-here", replay.id, "logs", "stdout.log"), "utf8"),
    ).toContain("trained");
    const events = await plane.client.jobEvents(replay.id);
    expect(events[0]).toMatchObject({ type: "submitted", replayOf: recorded.id });
  });

  it("replays through the SDK as AIbro's replay_job does: waits, then saves checkpoints and logs", async () => {
    const recorded = await plane.finished((await plane.client.submitJob(trainingSpec())).id);
    const ckptDir = join(dir, "sdk-ckpt");
    const logDir = join(dir, "sdk-logs");
    const phases: string[] = [];
    const replayed = await plane.client.replayJob(recorded.id, {
      description: "again, from the SDK",
      ckptDir,
      logDir,
      onEvent: (event) => {
        phases.push(event.phase);
      },
    });
    expect(replayed.job).toMatchObject({ phase: "COMPLETED", replayOf: recorded.id });
    expect(phases.at(-1)).toBe("COMPLETED");
    expect(replayed.checkpoints?.paths.sort()).toEqual(
      ["epoch-0.json", "epoch-1.json", "epoch-2.json"].map((name) =>
        join(ckptDir, replayed.job.id, "checkpoints", name),
      ),
    );
    const stdout = join(logDir, replayed.job.id, "logs", "stdout.log");
    expect(replayed.logs?.paths).toContain(stdout);
    expect(await readFile(stdout, "utf8")).toContain("trained");
    for (const path of replayed.checkpoints?.paths ?? [])
      expect((await readFile(path)).byteLength).toBeGreaterThan(0);
  });

  it("shows what a finished job and its instance cost", async () => {
    const job = await plane.finished((await plane.client.submitJob(trainingSpec())).id);
    const { cost } = await plane.client.getJob(job.id);
    expect(cost).toMatchObject({ usd: 0, instanceType: "local" });
    expect(cost?.items.map((item) => item.part)).toEqual(["boot", "running"]);
    expect(cost?.items.every((item) => item.seconds > 0)).toBe(true);
    const instance = (await plane.client.listInstances()).find(
      (each) => each.id === job.instanceId,
    );
    expect(instance?.cost).toMatchObject({ usd: 0, instanceType: "local" });
    expect(instance?.cost.items.find((item) => item.part === "running")?.seconds).toBeGreaterThan(
      0,
    );

    const status = await cli(["status", job.id]);
    expect(status.stdout).toMatch(
      /^Cost: +\$0\.00 estimated from list prices \(boot \d+s \$0\.00, running \d+s \$0\.00\)$/m,
    );
  });

  it("deploys an inference spec, waiting until it serves, and it is stopped by model name", async () => {
    await writeFile(
      join(dir, "serve.json"),
      JSON.stringify(servingSpec("e2e-model", "pong", { port: 8808, healthPath: "/" })),
    );
    const deployed = await cli(["deploy", "-f", "serve.json"]);
    expect(deployed.code, deployed.stderr).toBe(0);
    const endpoint = /^serving e2e-model at (\S+)$/m.exec(deployed.stdout)?.[1];
    expect(endpoint).toBeDefined();
    expect(await (await fetch(endpoint ?? "")).text()).toBe("pong");
    expect(deployed.stdout).toMatch(/^stop it with: gpuctl complete --model e2e-model$/m);

    expect((await cli(["complete", "--model", "e2e-model"])).code).toBe(0);
    const jobId = deployed.stdout.split("\n")[0] ?? "";
    expect(await plane.finished(jobId)).toMatchObject({ phase: "COMPLETED" });
  });

  it("refuses to deploy a training spec, naming kind", async () => {
    await writeFile(join(dir, "train.json"), JSON.stringify(trainingSpec()));
    const refused = await cli(["deploy", "-f", "train.json"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/kind: gpuctl deploy runs inference deployments/);
  });
});
