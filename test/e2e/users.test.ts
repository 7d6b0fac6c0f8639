/**
 * Two users and a reviewer on the real local control plane, through the CLI as each would
 * run it: the admin adds the others; the second user sees nothing of the admin's jobs,
 * instances or model names, cannot approve their own job's cost review, and sees in the
 * job's events who did.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AddedUserView, InstanceView, JobView } from "../../sdk/api-types.ts";
import { GpuctlClient } from "../../sdk/client.ts";
import { gpuctl } from "../unit/cli/run-gpuctl.ts";
import { servingSpec, startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dir: string;

beforeAll(async () => {
  plane = await startTestControlPlane();
  dir = await mkdtemp(join(tmpdir(), "gpuctl-users-"));
  await writeFile(
    join(dir, "admin.json"),
    JSON.stringify({ endpoint: plane.endpoint, token: plane.userToken }),
  );
});
afterAll(async () => {
  await plane?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The CLI as `who` runs it, with a config file of their own. */
const as = (who: string) => (args: string[]) =>
  gpuctl(args, { env: { GPUCTL_CONFIG: join(dir, `${who}.json`) } });
const json = <T>(run: { code: number; stdout: string; stderr: string }): T => {
  expect(run, run.stderr).toMatchObject({ code: 0 });
  return JSON.parse(run.stdout) as T;
};

/** Polls `owner`'s job until `done` holds: the admin's client finds no other user's job. */
const until = async (owner: GpuctlClient, jobId: string, done: (job: JobView) => boolean) => {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await owner.getJob(jobId);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} stuck in ${job.phase}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** An admin adds `email` with the CLI; the new user's CLI is signed in with its first token. */
const addUser = async (who: string, email: string, role: string) => {
  const added = json<AddedUserView>(
    await as("admin")(["user", "add", email, "--role", role, "-o", "json"]),
  );
  await writeFile(join(dir, `${who}.json`), JSON.stringify({ endpoint: plane.endpoint }, null, 2));
  expect((await as(who)(["login", "--token", added.token.token])).code).toBe(0);
  return new GpuctlClient({ endpoint: plane.endpoint, token: added.token.token });
};

describe("users of one control plane", () => {
  it("see nothing of each other's, and review only others' jobs", async () => {
    const bob = await addUser("bob", "bob@example.org", "user");
    await addUser("rita", "rita@example.org", "reviewer");

    // The admin's training job and a deployment of `shared-name`, both holding instances.
    const trained = await plane.finished((await plane.client.submitJob(trainingSpec())).id);
    expect(trained.phase).toBe("COMPLETED");
    const serving = await plane.client.submitJob(
      servingSpec("shared-name", "first model", { port: 18931, healthPath: "/" }),
    );
    await plane.waitFor(serving.id, (job) => job.endpoint !== undefined);

    const asBob = as("bob");
    expect(json<JobView[]>(await asBob(["ls", "-o", "json"]))).toEqual([]);
    expect(json<InstanceView[]>(await asBob(["instances", "-o", "json"]))).toEqual([]);
    for (const id of [trained.id, serving.id]) {
      const status = await asBob(["status", id]);
      expect(status.code).not.toBe(0);
      expect(status.stderr).toContain(`job ${id} not found`);
    }
    const probe = await asBob(["complete", "--model", "shared-name"]);
    expect(probe.code).not.toBe(0);
    expect(probe.stderr).toContain("no active deployment serves shared-name");
    expect((await plane.client.getJob(serving.id)).terminal).toBe(false);

    // Bob's job waits at the cost gate, which he cannot open himself.
    const gated = await bob.submitJob(trainingSpec({ name: "gated", review: true }));
    await until(bob, gated.id, (job) => job.phase === "PENDING_REVIEW");
    const own = await asBob(["review", gated.id, "--approve"]);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain("the owner of a job cannot review it");
    expect((await bob.getJob(gated.id)).phase).toBe("PENDING_REVIEW");

    const waiting = json<{ id: string; ownerEmail?: string }[]>(
      await as("rita")(["reviews", "-o", "json"]),
    );
    expect(waiting).toEqual([
      expect.objectContaining({ id: gated.id, ownerEmail: "bob@example.org" }),
    ]);
    expect((await as("rita")(["review", gated.id, "--approve"])).code).toBe(0);
    const done = await until(bob, gated.id, (job) => job.terminal);
    expect(done.phase).toBe("COMPLETED");

    const events = await bob.jobEvents(gated.id);
    const approved = events.find((event) => event.type === "reviewApproved");
    const [created, connect] = (await bob.jobTimeline(gated.id)).periods;
    // The wait for the reviewer is the job's creation, not its instance's connection.
    expect(created).toMatchObject({ phase: "Job Create", endedAt: approved?.at });
    expect(connect).toMatchObject({ phase: "Instance Connect", startedAt: approved?.at });
    const decisions = events.filter((event) => event.by);
    expect(decisions.map((event) => [event.type, event.by?.email])).toEqual([
      ["submitted", "bob@example.org"],
      ["reviewApproved", "rita@example.org"],
    ]);

    // Bob lists his own job and instance; the admin sees every instance.
    expect(json<JobView[]>(await asBob(["ls", "-o", "json"])).map((job) => job.id)).toEqual([
      gated.id,
    ]);
    const bobs = json<InstanceView[]>(await asBob(["instances", "-o", "json"]));
    const all = json<InstanceView[]>(await as("admin")(["instances", "-o", "json"]));
    expect(bobs).toHaveLength(1);
    expect(all.map((instance) => instance.id)).toEqual(
      expect.arrayContaining([
        ...bobs.map((instance) => instance.id),
        (await plane.client.getJob(serving.id)).instanceId,
      ]),
    );
    expect(all.length).toBeGreaterThan(bobs.length);

    await plane.client.completeJob(serving.id);
  });
});
