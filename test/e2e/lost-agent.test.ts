/**
 * Lost agents on the local control plane: agent processes killed, hung (SIGSTOP) or gone
 * with their folder while their job trains, as a crashed agent, a wedged one and a deleted
 * instance are on EC2. The agents beat every second; this control plane calls one silent
 * after 3 s without a beat (HeartbeatSeconds is 120 on AWS).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_AGENT_LOSSES } from "../../lambdas/domain/transitions.ts";
import type { JobEventView, JobView } from "../../sdk/api-types.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane({ heartbeatTimeoutS: 3 });
});
afterAll(async () => {
  await plane?.stop();
});

/** Trains for a few seconds, long enough to be killed or hung mid-run, then returns results. */
const slowTraining = (name: string) =>
  trainingSpec({ name, run: `sleep 3; ${trainingSpec().run}` });

const submit = async (name: string) => (await plane.client.submitJob(slowTraining(name))).id;

/** The job once it trains on an instance other than `not` (the one it lost, if any). */
const trainingOn = (jobId: string, not?: string) =>
  plane.waitFor(jobId, (job) => job.phase === "TRAINING" && job.instanceId !== not, 60_000);

const completed = async (jobId: string) => {
  const job = await plane.finished(jobId, 60_000);
  expect(job.phase).toBe("COMPLETED");
  return job;
};

/** The job's first event of `type`, once it has one. */
const eventOf = async (jobId: string, type: string): Promise<JobEventView> => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = (await plane.client.jobEvents(jobId)).find((event) => event.type === type);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`job ${jobId} has no ${type} event`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const instanceStatus = async (id: string | undefined) => {
  const view = (await plane.client.listInstances()).find((instance) => instance.id === id);
  return view && [view.status, view.substatus];
};

const instanceOf = (job: JobView): string => {
  if (!job.instanceId) throw new Error(`job ${job.id} is on no instance`);
  return job.instanceId;
};

/** What each dialect shows of a job requeued for a new instance: waiting for a server. */
const REQUEUED_DIALECTS = {
  aibro: { status: "QUEUING", substatus: "REQUESTING SERVER" },
  runai: { status: "Pending", color: "#fd8608" },
  modelarts: { code: 4, name: "JOBSTAT_SUBMIT_TRYING" },
};

const COMPLETED_DIALECTS = {
  aibro: { status: "COMPLETED", substatus: "COMPLETED" },
  runai: { status: "Succeeded" },
  modelarts: { code: 10, name: "JOBSTAT_COMPLETED" },
};

/**
 * The job lost its placement on `lostOn` and was requeued by `requeue` (what each dialect
 * shows while it waits for a new instance), then completed on another instance, its attempt
 * unspent; the lost instance is terminated.
 */
const requeuedAndCompletedElsewhere = async (
  jobId: string,
  lostOn: string,
  requeue: { type: string; reason: string },
) => {
  expect(await eventOf(jobId, requeue.type)).toMatchObject({
    from: "TRAINING",
    phase: "REQUESTING_SERVER",
    reason: requeue.reason,
    dialects: REQUEUED_DIALECTS,
  });
  const done = await completed(jobId);
  expect(done).toMatchObject({ attempt: 1, requeues: 1, dialects: COMPLETED_DIALECTS });
  expect(done.instanceId).not.toBe(lostOn);
  expect(await instanceStatus(lostOn)).toEqual(["CLOSED", "TERMINATED"]);
};

describe("an agent lost while its job trains", () => {
  it("killed: its exit requeues the job at once (no heartbeat timeout), which completes on another instance, its attempt unspent", async () => {
    const jobId = await submit("killed-agent");
    const lostOn = instanceOf(await trainingOn(jobId));
    await plane.compute.killAgent(lostOn);

    // The process exit is the instance's state change, as EC2's event is on AWS: no wait
    // for the heartbeat timeout. Stopped mid-job, with no cooling plan to end it, the
    // instance is terminated.
    await requeuedAndCompletedElsewhere(jobId, lostOn, {
      type: "instanceGone",
      reason: "INSTANCE_VANISHED",
    });
    expect((await plane.client.jobEvents(jobId)).map((event) => event.type)).not.toContain(
      "heartbeatLost",
    );
  });

  it("hung: silent past the heartbeat timeout on a running instance, its agent is restarted there once and the job completes on it", async () => {
    const jobId = await submit("hung-agent");
    const hungOn = instanceOf(await trainingOn(jobId));
    plane.compute.hangAgent(hungOn);

    const restart = await eventOf(jobId, "agentRestarted");
    expect(restart).toMatchObject({
      from: "TRAINING",
      phase: "CONNECTING_SERVER",
      reason: "HEARTBEAT_LOST",
      dialects: {
        aibro: { status: "QUEUING", substatus: "CONNECTING SERVER" },
        runai: { status: "ContainerCreating" },
        modelarts: { code: 4 },
      },
    });
    const done = await completed(jobId);
    expect(done).toMatchObject({ attempt: 1, requeues: 0, instanceId: hungOn });
    const phases = await plane.phasesOf(jobId);
    // The restarted agent on the same disk: the env is cached there.
    expect(phases.slice(phases.indexOf("TRAINING"))).toEqual([
      "TRAINING",
      "CONNECTING_SERVER",
      "SENDING_MODEL_AND_DATA",
      "TRAINING",
      "RETURNING",
      "COMPLETED",
    ]);
  });

  it("hung again after its restart: treated as gone, the instance terminated, the job requeued and completed elsewhere", async () => {
    const jobId = await submit("hung-twice");
    const hungOn = instanceOf(await trainingOn(jobId));
    plane.compute.hangAgent(hungOn);
    await eventOf(jobId, "agentRestarted");
    await plane.waitFor(jobId, (job) => job.phase === "TRAINING", 60_000);
    plane.compute.hangAgent(hungOn);

    await requeuedAndCompletedElsewhere(jobId, hungOn, {
      type: "heartbeatLost",
      reason: "HEARTBEAT_LOST",
    });
  });

  it("its instance vanished: the job is requeued and completes on another instance", async () => {
    const jobId = await submit("vanished-instance");
    const goneOn = instanceOf(await trainingOn(jobId));
    await plane.compute.vanish(goneOn);

    await requeuedAndCompletedElsewhere(jobId, goneOn, {
      type: "instanceGone",
      reason: "INSTANCE_VANISHED",
    });
  });

  it(`a job that keeps losing its instance ends LOST after ${MAX_AGENT_LOSSES} requeues, with no instance left running`, async () => {
    const jobId = await submit("loses-every-instance");
    const lost: string[] = [];
    for (let loss = 0; loss <= MAX_AGENT_LOSSES; loss++) {
      const on = instanceOf(await trainingOn(jobId, lost.at(-1)));
      lost.push(on);
      await plane.compute.vanish(on);
    }
    const end = await plane.finished(jobId, 60_000);
    expect(end).toMatchObject({
      phase: "LOST",
      reason: "INSTANCE_VANISHED",
      attempt: 1,
      requeues: MAX_AGENT_LOSSES,
      dialects: {
        aibro: { status: "CANCELED", substatus: "CANCELED" },
        runai: { status: "Unknown", color: "#d0d0d0" },
        modelarts: { code: 14, name: "JOBSTAT_LOST" },
      },
    });
    expect(new Set(lost).size).toBe(MAX_AGENT_LOSSES + 1);
    for (const id of lost) expect(await instanceStatus(id)).toEqual(["CLOSED", "TERMINATED"]);
  });
});
