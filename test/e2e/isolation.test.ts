/**
 * Jobs against the agent and each other, for real: a hostile job on the local control
 * plane hunts for agent credentials and uses whatever it finds on an earlier job; a closed
 * instance's token is tried; failed jobs and parallel deployments are checked for what
 * users get back.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentAccess } from "../../lambdas/use-cases/agent-identity.ts";
import { servingSpec, startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dynamodbPort: number | undefined;
const controlPlaneHome = "/gpuctl-control-plane-home";
beforeAll(async () => {
  // What the control plane's own process has; none of it may reach a job.
  process.env.GPUCTL_STATE_DIR = "/gpuctl-control-plane-state";
  const home = process.env.HOME;
  process.env.HOME = controlPlaneHome;
  try {
    plane = await startTestControlPlane({
      probes: {
        dynamodb: (client) => {
          void client.config.endpoint?.().then(({ port }) => {
            dynamodbPort = port;
          });
        },
      },
    });
  } finally {
    process.env.HOME = home;
    delete process.env.GPUCTL_STATE_DIR;
  }
});
afterAll(async () => {
  await plane?.stop();
});

const text = async (jobId: string, path: string) =>
  new TextDecoder().decode(await plane.client.downloadOutput(jobId, path));

/** The instance once its cooling period is over (stopped). */
const closed = async (id: string | undefined) => {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = (await plane.client.listInstances()).find((each) => each.id === id);
    if (view?.status === "CLOSED" || Date.now() > deadline) return view;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe("a job cannot reach the agent's credentials, nor anything of another job", () => {
  it("leaves an earlier job's results and endpoint alone, whatever a hostile job tries", async () => {
    const victim = await plane.finished((await plane.client.submitJob(trainingSpec())).id);
    expect(victim.phase).toBe("COMPLETED");
    const script = await readFile(join(import.meta.dirname, "attacker.py"));
    const { sha256 } = await plane.client.uploadInput(script);
    const attacker = await plane.finished(
      (
        await plane.client.submitJob(
          trainingSpec({
            name: "attacker",
            setup: undefined,
            inputs: [{ sha256, path: "attacker.py" }],
            run: "python3 attacker.py",
            env: { CP: plane.endpoint, VICTIM: victim.id },
          }),
        )
      ).id,
    );
    expect(attacker.phase).toBe("COMPLETED");
    const report = JSON.parse(await text(attacker.id, "results/attack.json"));
    expect(report.found).toBe(0);
    expect(report.env).not.toContain("GPUCTL_AGENT_TOKEN");
    expect(report.env).not.toContain("GPUCTL_STATE_DIR");
    expect(report.home).not.toBe(controlPlaneHome);
    expect(report.home).toContain(attacker.id);
    // Where the OS tells users apart (the agent runs as root), neither through the files.
    if (process.getuid?.() === 0)
      for (const [what, outcome] of Object.entries(report.files))
        expect([what, outcome]).toEqual([what, "Permission denied"]);
    for (const { what, status } of report.attempts)
      expect([what, typeof status === "number" && status >= 400]).toEqual([what, true]);

    // It finds the control plane's DynamoDB Local, which shows any key id but the control
    // plane's own an empty database: no table to read, none to forge a token in. (Other
    // ports may be other programs' DynamoDB Local on this machine.)
    const dynamodb = report.dynamodb.filter(
      (probe: { port: number }) => probe.port === dynamodbPort,
    );
    expect(dynamodb).not.toEqual([]);
    for (const probe of dynamodb) expect(probe).toMatchObject({ tables: [], put: 400 });

    expect(JSON.parse(await text(victim.id, "results/model.json"))).toEqual({ loss: 0.01 });
    expect((await plane.client.getJob(victim.id)).endpoint).toBeUndefined();
  });

  it("opens nothing with a closed instance's token", async () => {
    const done = await plane.finished(
      (await plane.client.submitJob(trainingSpec({ setup: "true # closing", coolingPeriodS: 1 })))
        .id,
    );
    expect(await closed(done.instanceId)).toMatchObject({ status: "CLOSED" });
    const token = agentAccess(plane.cp, done.instanceId ?? "").token;
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${plane.endpoint}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const poll = await call("POST", `/agent/v1/instances/${done.instanceId}/poll`, {
      envHashes: [],
      waitS: 0,
    });
    expect(poll.status).toBe(403);
    const read = await call("GET", `/agent/v1/artifacts/jobs/${done.id}/results/model.json`);
    expect(read.status).toBe(403);
  });
});

describe("what users get back", () => {
  it("returns the logs of a failed job", async () => {
    const failed = await plane.finished(
      (
        await plane.client.submitJob(
          trainingSpec({ run: "echo boom >&2; exit 3", backoffLimit: 0, outputs: [] }),
        )
      ).id,
    );
    expect(failed).toMatchObject({ phase: "FAILED", exitCode: 3 });
    expect(await text(failed.id, "logs/stderr.log")).toBe("boom\n");
  });

  it("serves two deployments that ask for one port, each at its own endpoint", async () => {
    const serve = (name: string) =>
      plane.client.submitJob(servingSpec(name, name, { port: 8808, healthPath: "/" }));
    const jobs = await Promise.all(["first-model", "second-model"].map(serve));
    const serving = await Promise.all(
      jobs.map((job) => plane.waitFor(job.id, (view) => view.endpoint !== undefined)),
    );
    expect(new Set(serving.map((job) => job.endpoint)).size).toBe(2);
    for (const [index, name] of ["first-model", "second-model"].entries())
      expect(await (await fetch(`${serving[index]?.endpoint}/`)).text()).toBe(name);
    for (const name of ["first-model", "second-model"])
      expect((await plane.client.completeDeployment(name)).phase).toBe("COMPLETED");
  });
});
