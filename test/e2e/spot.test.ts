/**
 * Spot interruptions on the local control plane: the local compute raises the notice EC2
 * sends two minutes before it reclaims a spot instance, then the instance vanishes. The
 * job's own output shows where each attempt started.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import type { JobEventView, JobView } from "../../sdk/api-types.ts";
import { startTestControlPlane } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane();
});
afterAll(async () => {
  await plane?.stop();
});

/** Long enough for the job to save and the agent to upload its checkpoint, on a busy machine. */
const NOTICE_MS = 8_000;
const STEPS = 10;

/**
 * Counts to STEPS from the step saved in `$GPUCTL_CHECKPOINT_DIR` (0 without one); a first
 * attempt stops half-way and waits to be interrupted, saving its step on SIGTERM. Each
 * attempt's start goes to `results/run.json`, and `ready` in the job folder says the
 * counting is under way (the handler is installed).
 */
const countingSpec = (overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: "spot-count",
  instance: { types: ["local"], spot: true },
  run: [
    'python3 -c "',
    "import json, os, signal, sys, time",
    "ckpt = os.environ.get('GPUCTL_CHECKPOINT_DIR')",
    "saved = os.path.join(ckpt, 'step.json') if ckpt else None",
    "start = json.load(open(saved))['step'] if saved and os.path.exists(saved) else 0",
    "step = start",
    "def save(*_):",
    "    if saved: json.dump({'step': step}, open(saved, 'w'))",
    "    sys.exit(143)",
    "signal.signal(signal.SIGTERM, save)",
    `while step < (${STEPS} if start else ${STEPS / 2}):`,
    "    step += 1",
    "open('ready', 'w').close()",
    "while not start: time.sleep(0.05)",
    "os.makedirs('results', exist_ok=True)",
    "json.dump({'resumedFrom': start, 'step': step}, open('results/run.json', 'w'))\"",
  ].join("\n"),
  outputs: ["results"],
  checkpointDir: "ckpt",
  coolingPeriodS: 60,
  ...overrides,
});

/** The job once its run is under way, and the instance it runs on. */
const runningOn = async (jobId: string): Promise<{ job: JobView; instanceId: string }> => {
  const job = await plane.waitFor(jobId, (view) => view.phase === "TRAINING");
  const instanceId = job.instanceId;
  if (!instanceId) throw new Error(`job ${jobId} runs on no instance`);
  const ready = join(plane.stateDir, "instances", instanceId, "jobs", jobId, "ready");
  const deadline = Date.now() + 30_000;
  while (!existsSync(ready)) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} never started counting`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { job, instanceId };
};

const output = async (jobId: string, path: string): Promise<unknown> =>
  JSON.parse(new TextDecoder().decode(await plane.client.downloadOutput(jobId, path)));

const eventOf = (events: JobEventView[], type: string, from: string) => {
  const found = events.find((event) => event.type === type && event.from === from);
  if (!found) throw new Error(`no ${type} from ${from} in ${events.map((e) => e.type).join(", ")}`);
  return found;
};

describe("a spot interruption", () => {
  it("requeues a training job, which resumes from its checkpoint on another instance", async () => {
    const submitted = await plane.client.submitJob(countingSpec());
    const first = await runningOn(submitted.id);
    plane.compute.interrupt(first.instanceId, { noticeMs: NOTICE_MS });

    const done = await plane.finished(submitted.id, 60_000);
    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1, requeues: 1 });
    expect(done.instanceId).not.toBe(first.instanceId);
    // Saved at step 5 on SIGTERM, fetched into the folder of the next attempt, counted on.
    expect(await output(submitted.id, "ckpt/step.json")).toEqual({ step: STEPS / 2 });
    expect(await output(submitted.id, "results/run.json")).toEqual({
      resumedFrom: STEPS / 2,
      step: STEPS,
    });

    const events = await plane.client.jobEvents(submitted.id);
    const preempting = eventOf(events, "spotInterruptionNotice", "TRAINING");
    expect(preempting).toMatchObject({ phase: "PREEMPTING", reason: "SPOT_INTERRUPTED" });
    expect(preempting.dialects).toMatchObject({
      aibro: { status: "TRAINING", substatus: "RETURNING" },
      runai: { status: "Terminating" },
      modelarts: { code: 8 },
    });
    const requeued = eventOf(events, "instanceGone", "PREEMPTING");
    expect(requeued).toMatchObject({ phase: "REQUESTING_SERVER", reason: "SPOT_INTERRUPTED" });
    expect(requeued.dialects).toMatchObject({
      aibro: { status: "QUEUING", substatus: "REQUESTING SERVER" },
      runai: { status: "Pending" },
      modelarts: { code: 4 },
    });
    expect(events.map((event) => event.phase).slice(-4)).toEqual([
      "SENDING_MODEL_AND_DATA",
      "TRAINING",
      "RETURNING",
      "COMPLETED",
    ]);
    // The instance is gone, and recorded so.
    const instances = await plane.client.listInstances();
    expect(instances.find((instance) => instance.id === first.instanceId)).toMatchObject({
      status: "CLOSED",
    });
  });

  it("retries a job with backoffLimit 0 and no checkpointDir from the start", async () => {
    const submitted = await plane.client.submitJob(
      countingSpec({ name: "spot-nockpt", backoffLimit: 0, checkpointDir: undefined }),
    );
    const first = await runningOn(submitted.id);
    plane.compute.interrupt(first.instanceId, { noticeMs: NOTICE_MS });
    // Without a checkpoint, the next attempt starts at 0 again and waits: interrupt it too.
    const second = await plane.waitFor(
      submitted.id,
      (job) => job.phase === "TRAINING" && job.instanceId !== first.instanceId,
      60_000,
    );
    expect(second).toMatchObject({ attempt: 1, requeues: 1 });
    expect(await plane.client.listOutputs(submitted.id)).not.toContainEqual(
      expect.stringMatching(/^ckpt\//),
    );
    await plane.client.cancelJob(submitted.id);
    expect(await plane.finished(submitted.id)).toMatchObject({ phase: "CANCELED" });
  });

  it("ends an interactive spot job PREEMPTED", async () => {
    const submitted = await plane.client.submitJob(
      countingSpec({ name: "spot-interactive", kind: "interactive" }),
    );
    const first = await runningOn(submitted.id);
    plane.compute.interrupt(first.instanceId, { noticeMs: NOTICE_MS });

    const done = await plane.finished(submitted.id, 60_000);
    expect(done).toMatchObject({ phase: "PREEMPTED", reason: "SPOT_INTERRUPTED", attempt: 1 });
    expect(done.dialects).toMatchObject({
      runai: { status: "Preempted" },
      modelarts: { code: 12 },
      aibro: { status: "CANCELED" },
    });
    expect(await plane.phasesOf(submitted.id)).toEqual(
      expect.arrayContaining(["TRAINING", "PREEMPTING", "PREEMPTED"]),
    );
  });
});
