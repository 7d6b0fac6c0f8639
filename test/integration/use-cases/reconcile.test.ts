/**
 * Reconcile and the reaper against DynamoDB Local and the EC2 adapter over a fake EC2 (at
 * the SDK boundary): orphans terminated, overdue cooling expired, vanished instances
 * recorded and their jobs moved on; and a silent agent's instance asked about.
 */
import {
  RebootInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Command } from "../../../agent/protocol.ts";
import { Ec2Compute } from "../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { launchInstance } from "../../../lambdas/domain/instance.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import { type CommandQueue, MailboxClosed, type Workflows } from "../../../lambdas/ports.ts";
import { changeInstance } from "../../../lambdas/use-cases/change-instance.ts";
import { finishCancel, reap } from "../../../lambdas/use-cases/reap.ts";
import {
  instanceStateChanged,
  type ReconcilePorts,
  spotInterruptionWarned,
} from "../../../lambdas/use-cases/reconcile-instance.ts";
import { recoverAfterRestart } from "../../../lambdas/use-cases/recover.ts";
import { askAboutSilentAgent } from "../../../lambdas/use-cases/silent-agent.ts";
import { ec2Client, ec2Error, fakeEc2 } from "../../fakes/fake-ec2.ts";
import { runInstance } from "../../fixtures/instances.ts";
import { freshStores, newRecord } from "../stores.ts";

/** Well after the fake EC2's launch times (2026-01-01T00:0n:00Z) and the reaper's grace. */
const NOW = "2026-01-01T02:00:00.000Z";
const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:env",
  region: "eu-west-1",
  owner: "ada",
};

let ec2: ReturnType<typeof fakeEc2>;
let cp: ReconcilePorts;
let closed: string[];
let pushed: Array<{ instanceId: string; command: Command }>;
let taskFailures: Array<{ token: string; error: string; cause: string }>;

let stores: Awaited<ReturnType<typeof freshStores>>;

// A table per test: the fake EC2 of each test numbers its instances from 1 again.
beforeEach(async () => {
  stores = await freshStores();
  ec2 = fakeEc2();
  closed = [];
  pushed = [];
  taskFailures = [];
  const compute = new Ec2Compute({
    client: ec2Client(),
    launchTemplate: { id: "lt-0abc", version: "1" },
    subnetIds: ["subnet-a"],
    instanceTypes: ["g5.xlarge"],
    controlPlane: "gpuctl-test",
    userData: () => "#!/bin/sh\n",
  });
  const commands: CommandQueue = {
    open: async () => {},
    push: async (instanceId, command) => {
      if (closed.includes(instanceId)) throw new MailboxClosed(instanceId);
      pushed.push({ instanceId, command });
    },
    close: async (instanceId) => void closed.push(instanceId),
  };
  const workflows = {
    sendTaskFailure: async (token: string, error: string, cause: string) =>
      void taskFailures.push({ token, error, cause }),
  } as unknown as Workflows;
  cp = { ...stores.at(NOW), compute, commands, workflows };
});

afterEach(() => ec2.mock.restore());

/** An EC2 instance launched under a gpuctl id; its EC2 id. */
const launched = async (instanceId: string, spot = false) => {
  const { providerId } = await cp.compute.launch({
    instanceId,
    instanceType: "g5.xlarge",
    spot,
    jobId: `job-of-${instanceId}`,
    owner: "ada",
    envHash: pool.envHash,
    region: pool.region,
    agent: { endpoint: "https://api.example.com", token: "unused" },
  });
  return providerId;
};

/** A job TRAINING on a launched instance, with the task its workflow waits on; both stored. */
const training = async (id: string, spot: boolean) => {
  const instanceId = `gi-${id}`;
  const providerId = await launched(instanceId, spot);
  const instance = runInstance(
    launchInstance({ id: instanceId, providerId, pool, spot, jobId: id }),
    { type: "agentRegistered" },
    { type: "jobRunning" },
  );
  await stores.instances.create(instance, NOW);
  const job: Job = { ...newRecord({ id, spot }).job, phase: "TRAINING", instanceId };
  await stores.jobs.submit({ record: newRecord({ id, spot }, { job }) });
  await stores.jobs.setTaskToken(id, `token-${id}`);
  return { instance, providerId };
};

/** A cooling instance whose plan said stop at `coolingUntil`, terminate at `stoppedUntil`. */
const coolingSince = async (instanceId: string, coolingUntil: string, stoppedUntil: string) => {
  const providerId = await launched(instanceId);
  const instance = runInstance(
    launchInstance({ id: instanceId, providerId, pool, spot: false, jobId: "earlier" }),
    { type: "agentRegistered" },
    { type: "released", coolingUntil, stoppedUntil },
  );
  await stores.instances.create(instance, NOW);
  return { instance, providerId };
};

const ec2State = (providerId: string) => ec2.instances.get(providerId)?.State?.Name;

describe("the reaper", () => {
  it("terminates an instance no record claims, and closes its mailbox", async () => {
    const providerId = await launched("gi-orphan");
    const report = await reap(cp);
    expect(report.failed).toEqual([]);
    expect(report.done.terminateOrphan).toBeGreaterThanOrEqual(1);
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect(closed).toContain("gi-orphan");
  });

  it("stops a cooling instance its timer should have stopped, as the timer would", async () => {
    const { instance, providerId } = await coolingSince(
      "gi-overdue",
      "2026-01-01T01:00:00.000Z",
      "2026-01-01T03:00:00.000Z",
    );
    await reap(cp);
    expect(await stores.instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
      stoppedUntil: "2026-01-01T03:00:00.000Z",
    });
    expect(ec2State(providerId)).toMatch(/stopping|stopped/);
  });

  it("starts after a restart although the compute will not close an instance now: that one is left closing for the reaper", async () => {
    const refused = await training("refused", false);
    const fine = await training("fine", false);
    ec2.mock
      .on(StopInstancesCommand, { InstanceIds: [refused.providerId] })
      .rejects(ec2Error("UnauthorizedOperation", "not allowed"));
    // Its requeued jobs get a workflow again.
    const started: string[] = [];
    const workflows = {
      ...cp.workflows,
      start: async (_machine: string, name: string) => {
        started.push(name);
        return { executionId: name };
      },
    } as unknown as Workflows;
    const recovery = await recoverAfterRestart({ ...cp, workflows } as unknown as Parameters<
      typeof recoverAfterRestart
    >[0]);
    expect(recovery.closeFailures).toEqual([
      { instanceId: refused.instance.id, error: expect.stringContaining("not allowed") },
    ]);
    expect(await stores.instances.get(refused.instance.id)).toMatchObject({ status: "CLOSING" });
    expect(await stores.instances.get(fine.instance.id)).toMatchObject({ substatus: "STOPPED" });
    expect((await stores.jobs.get("refused"))?.job.phase).toBe("REQUESTING_SERVER");
    expect(started).toHaveLength(2);
  });

  it("ends, on its plan, an instance a restart stopped with no timer left to end it", async () => {
    const { instance, providerId } = await coolingSince(
      "gi-restarted",
      "2026-01-01T01:30:00.000Z",
      "2026-01-01T03:00:00.000Z",
    );
    // The local control plane's restart: its timers are gone, its instances are stopped.
    await recoverAfterRestart(cp as unknown as Parameters<typeof recoverAfterRestart>[0]);
    expect(await stores.instances.get(instance.id)).toMatchObject({ substatus: "STOPPED" });
    await reap(cp);
    expect(ec2State(providerId)).toMatch(/stopping|stopped/);
    const later = { ...cp, ...stores.at("2026-01-01T03:00:01.000Z") };
    await reap(later);
    expect(await stores.instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
  });

  it("terminates an instance working for a job that ended without freeing it, and ends a cancel once its instance is closed", async () => {
    const { instance, providerId } = await training("ended", false);
    const ended = await stores.jobs.get("ended");
    if (!ended) throw new Error("no job");
    await stores.jobs.apply({
      before: ended,
      after: { ...ended.job, phase: "CANCELING", version: ended.job.version + 1 },
      event: { type: "cancelRequested" },
      at: "2026-01-01T01:00:00.000Z",
    });
    const report = await reap(cp);
    expect(report).toMatchObject({
      done: { terminateJobless: 1 },
      orphans: [instance.id],
      canceled: ["ended"],
    });
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect((await stores.jobs.get("ended"))?.job.phase).toBe("CANCELED");
  });

  it("keeps a cancel whose instance could not be closed through a restart, and ends it once the close succeeds", async () => {
    const { instance, providerId } = await training("held-up", false);
    await changeInstance(cp, instance, { type: "closeRequested", action: "terminate" });
    const job = await stores.jobs.get("held-up");
    if (!job) throw new Error("no job");
    await stores.jobs.apply({
      before: job,
      after: {
        ...job.job,
        phase: "CANCELING",
        reason: "DELETE_FAILED",
        version: job.job.version + 1,
      },
      event: { type: "cancelFailed" },
      at: NOW,
    });
    await recoverAfterRestart(cp as unknown as Parameters<typeof recoverAfterRestart>[0]);
    expect((await stores.jobs.get("held-up"))?.job).toMatchObject({
      phase: "CANCELING",
      reason: "DELETE_FAILED",
    });
    const report = await reap(cp);
    expect(report.canceled).toEqual(["held-up"]);
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect((await stores.jobs.get("held-up"))?.job.phase).toBe("CANCELED");
  });

  it("counts a cancel its workflow ended after the reaper read it as over, not as DELETE_FAILED", async () => {
    const { instance } = await training("raced", false);
    const closing = await changeInstance(cp, instance, {
      type: "closeRequested",
      action: "terminate",
    });
    const job = await stores.jobs.get("raced");
    if (!job) throw new Error("no job");
    const canceling = {
      ...job.job,
      phase: "CANCELING",
      reason: "DELETE_FAILED",
      version: job.job.version + 1,
    } as const;
    await stores.jobs.apply({
      before: job,
      after: canceling,
      event: { type: "cancelFailed" },
      at: NOW,
    });
    const readByReaper = await stores.jobs.get("raced");
    if (!readByReaper || !closing.ok) throw new Error("no job, or its instance not closing");
    // Its workflow's retried release closes the instance and ends the cancel meanwhile.
    await changeInstance(cp, closing.instance, { type: "terminated" });
    await stores.jobs.apply({
      before: readByReaper,
      after: { ...job.job, phase: "CANCELED", version: canceling.version + 1 },
      event: { type: "released" },
      at: NOW,
    });
    expect(await finishCancel(cp, readByReaper)).toBe(true);
  });

  it("leaves a cooling instance within its plan alone", async () => {
    const { instance, providerId } = await coolingSince(
      "gi-warm",
      "2026-01-01T02:30:00.000Z",
      "2026-01-01T03:00:00.000Z",
    );
    await reap(cp);
    expect(await stores.instances.get(instance.id)).toMatchObject({ status: "COOLING" });
    expect(ec2State(providerId)).toBe("running");
  });

  it("records a vanished spot instance terminated and requeues its job, ending its task", async () => {
    const { instance, providerId } = await training("reaped-spot", true);
    ec2.setState(providerId, "terminated");
    await reap(cp);
    expect(await stores.instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect((await stores.jobs.get("reaped-spot"))?.job).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "SPOT_INTERRUPTED",
      requeues: 1,
    });
    expect(closed).toContain(instance.id);
    expect(taskFailures).toEqual([
      expect.objectContaining({ token: "token-reaped-spot", error: "gpuctl.InstanceGone" }),
    ]);
  });

  it("carries out every action it can and reports the ones that failed", async () => {
    const refused = await launched("gi-refused");
    const fine = await launched("gi-fine");
    ec2.mock
      .on(TerminateInstancesCommand, { InstanceIds: [refused] })
      .rejects(ec2Error("UnauthorizedOperation", "not allowed"));
    const report = await reap(cp);
    expect(report.failed).toEqual([
      expect.objectContaining({ type: "terminateOrphan", id: "gi-refused" }),
    ]);
    expect(report.failed[0]?.error).toContain("not allowed");
    expect(ec2State(fine)).toMatch(/shutting-down|terminated/);
    expect(ec2State(refused)).toBe("running");
  });
});

describe("EC2's events", () => {
  it("an on-demand instance stopped from inside mid-job: its job is requeued uncounted, the instance terminated", async () => {
    const { instance, providerId } = await training("stopped-inside", false);
    ec2.setState(providerId, "stopped");
    expect(await instanceStateChanged(cp, { providerId, state: "stopped" })).toEqual({
      applied: "vanished",
    });
    expect((await stores.jobs.get("stopped-inside"))?.job).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "INSTANCE_VANISHED",
      attempt: 1,
      requeues: 1,
    });
    expect(await stores.instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect(taskFailures.map((failure) => failure.token)).toEqual(["token-stopped-inside"]);
  });

  it("a spot warning makes the job PREEMPTING; the termination that follows requeues it", async () => {
    const { instance, providerId } = await training("warned", true);
    expect(await spotInterruptionWarned(cp, providerId)).toEqual({
      applied: "spotInterruptionNotice",
    });
    expect((await stores.jobs.get("warned"))?.job.phase).toBe("PREEMPTING");
    const preempt = { instanceId: instance.id, command: { type: "preempt", jobId: "warned" } };
    expect(pushed).toEqual([preempt]);
    // Delivered again (a run that died before it told the agent): the agent is told again.
    expect(await spotInterruptionWarned(cp, providerId)).toMatchObject({
      ignored: expect.stringContaining("PREEMPTING"),
    });
    expect(pushed).toEqual([preempt, preempt]);
    await instanceStateChanged(cp, { providerId, state: "shutting-down" });
    expect((await stores.jobs.get("warned"))?.job).toMatchObject({
      phase: "REQUESTING_SERVER",
      requeues: 1,
    });
  });

  it("the same event again, or one for its own close, changes nothing", async () => {
    const { instance, providerId } = await training("repeated", true);
    await instanceStateChanged(cp, { providerId, state: "shutting-down" });
    const after = await stores.instances.get(instance.id);
    expect(await instanceStateChanged(cp, { providerId, state: "terminated" })).toMatchObject({
      ignored: expect.stringContaining("in line with terminated"),
    });
    expect(await stores.instances.get(instance.id)).toEqual(after);
    expect(taskFailures).toHaveLength(1);

    const { instance: cooling } = await coolingSince("gi-own", NOW, NOW);
    const closing = runInstance(cooling, { type: "closeRequested", action: "stop" });
    await stores.instances.apply({ before: cooling, after: closing, at: NOW });
    expect(
      await instanceStateChanged(cp, { providerId: closing.providerId ?? "", state: "stopping" }),
    ).toEqual({ ignored: "instance gi-own is closing: its close records it" });
  });

  it("an instance it does not know, or a warning for an on-demand one, is ignored", async () => {
    expect(await instanceStateChanged(cp, { providerId: "i-0unknown", state: "stopped" })).toEqual({
      ignored: "no instance is recorded as i-0unknown",
    });
    const { providerId } = await training("on-demand", false);
    expect(await spotInterruptionWarned(cp, providerId)).toMatchObject({
      ignored: expect.stringContaining("not spot"),
    });
    expect((await stores.jobs.get("on-demand"))?.job.phase).toBe("TRAINING");
    expect(pushed).toEqual([]);
  });

  it("a warning that comes after the instance is gone tells no agent", async () => {
    const { providerId } = await training("late-warning", true);
    await instanceStateChanged(cp, { providerId, state: "terminated" });
    expect(await spotInterruptionWarned(cp, providerId)).toMatchObject({
      ignored: expect.stringContaining("runs no job"),
    });
    expect(pushed).toEqual([]);
  });
});

describe("a silent agent", () => {
  const jobOf = async (id: string) => (await stores.jobs.get(id))?.job;

  it("on a running instance is restarted once, by a reboot: the job connects again on that instance", async () => {
    const { instance, providerId } = await training("silent", false);
    ec2.mock.on(RebootInstancesCommand).resolves({});
    expect(await askAboutSilentAgent(cp, "silent")).toEqual({ restarted: true });
    expect(ec2.mock).toHaveReceivedCommandWith(RebootInstancesCommand, {
      InstanceIds: [providerId],
    });
    expect(await jobOf("silent")).toMatchObject({
      phase: "CONNECTING_SERVER",
      reason: "HEARTBEAT_LOST",
      instanceId: instance.id,
      agentRestarted: true,
      attempt: 1,
      requeues: 0,
    });
    expect(ec2State(providerId)).toBe("running");
  });

  it("silent again after its restart is gone: the instance terminated, then the job requeued uncounted", async () => {
    const { instance, providerId } = await training("silent-again", false);
    ec2.mock.on(RebootInstancesCommand).resolves({});
    await askAboutSilentAgent(cp, "silent-again");
    expect(await askAboutSilentAgent(cp, "silent-again")).toEqual({ restarted: false });
    expect(ec2.mock).toHaveReceivedCommandTimes(RebootInstancesCommand, 1);
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect(await stores.instances.get(instance.id)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(await jobOf("silent-again")).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "HEARTBEAT_LOST",
      attempt: 1,
      requeues: 1,
    });
  });

  it("on an instance EC2 has stopped is not restarted: the instance is terminated, the job requeued", async () => {
    const { providerId } = await training("silent-stopped", false);
    ec2.setState(providerId, "stopped");
    expect(await askAboutSilentAgent(cp, "silent-stopped")).toEqual({ restarted: false });
    expect(ec2.mock).not.toHaveReceivedCommand(RebootInstancesCommand);
    expect(ec2State(providerId)).toMatch(/shutting-down|terminated/);
    expect(await jobOf("silent-stopped")).toMatchObject({
      phase: "REQUESTING_SERVER",
      requeues: 1,
    });
  });

  it("of a job that moved on meanwhile changes nothing: its own path frees the instance", async () => {
    const { instance, providerId } = await training("canceled", false);
    const record = await stores.jobs.get("canceled");
    if (!record) throw new Error("no job");
    await stores.jobs.apply({
      before: record,
      after: { ...record.job, phase: "CANCELING", version: record.job.version + 1 },
      event: { type: "cancelRequested" },
      at: NOW,
    });
    expect(await askAboutSilentAgent(cp, "canceled")).toEqual({ restarted: false });
    expect(ec2.mock).not.toHaveReceivedCommand(RebootInstancesCommand);
    expect(ec2State(providerId)).toMatch(/pending|running/);
    expect((await stores.instances.get(instance.id))?.status).toBe("EXECUTING");
  });

  it("whose reboot EC2 refuses fails the step, the job left as it was for the workflow's catch", async () => {
    await training("reboot-refused", false);
    ec2.mock
      .on(RebootInstancesCommand)
      .rejects(ec2Error("UnauthorizedOperation", "not allowed to reboot"));
    await expect(askAboutSilentAgent(cp, "reboot-refused")).rejects.toThrow("not allowed");
    expect(await jobOf("reboot-refused")).toMatchObject({ phase: "TRAINING", requeues: 0 });
  });
});
