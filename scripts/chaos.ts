/**
 * A seeded chaos campaign against the local control plane: `npm run chaos -- --seed S
 * --jobs N --faults M [--settle-s T]` submits N jobs, injects M faults drawn from the seed
 * while they run (agent kills, restarts, capacity errors, throttling, spot notices,
 * duplicate and late agent reports), gives the jobs T seconds (120 by default) to end and
 * free their instances, runs the reaper once and gives them that again (a job still training
 * then is not lost), and checks that no job is lost, no instance is held by two jobs and no
 * instance runs without a purpose. Its last line ends `jobs=N faults=M
 * lost=0 orphans=0 double_assigned=0`; it exits non-zero when any count is not zero.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../lambdas/adapters/local/dynamodb-local.ts";
import { startLocalControlPlane } from "../lambdas/adapters/local/local-control-plane.ts";
import { isTerminal } from "../lambdas/domain/phases.ts";
import { listInstances } from "../lambdas/use-cases/list-instances.ts";
import { GpuctlClient } from "../sdk/client.ts";
import {
  FAULT_KINDS,
  type FaultKind,
  type FaultOutcome,
  injectFault,
  type LocalControlPlane,
  reportRecorder,
} from "./chaos/faults.ts";
import { checkRun, clean, summaryCounts, type Violations } from "./chaos/invariants.ts";
import { campaignJobs } from "./chaos/jobs.ts";
import { seededRandom } from "./chaos/random.ts";

export interface ChaosOptions {
  seed: number;
  jobs: number;
  faults: number;
  /** How long the jobs may take to end (or be running) once the faults are over. */
  settleMs?: number;
  /** Where progress goes; the summary line is returned, not logged. */
  log?: (line: string) => void;
}

export interface ChaosResult {
  /** The campaign's one summary line. */
  summary: string;
  violations: Violations;
  faults: Array<{ kind: FaultKind } & FaultOutcome>;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long jobs get to settle again once the reaper has run. */
const RESETTLE_MS = 20_000;

/** A job's phases as its events tell them, for a campaign's report of a lost job. */
const historyOf = async (local: LocalControlPlane, jobId: string) =>
  (await local.cp.jobs.events(jobId))
    .map(({ event, phase, reason }) => `${event.type}>${phase}${reason ? `(${reason})` : ""}`)
    .join(" ");

export const runChaos = async (options: ChaosOptions): Promise<ChaosResult> => {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const random = seededRandom(options.seed);
  const stateDir = await mkdtemp(join(tmpdir(), "gpuctl-chaos-"));
  const recorder = reportRecorder();
  // One port across restarts: the agents of a restarted control plane reach it where they did.
  const port = await freePort();
  const start = () =>
    startLocalControlPlane({
      stateDir,
      port,
      backoffMs: 50,
      // Agents beat every second: one killed mid-step is silent in seconds, not the workflow's
      // 120 s, well within a campaign's settling time.
      agentEnv: { GPUCTL_HEARTBEAT_S: "1" },
      heartbeatTimeoutS: 10,
      probes: { apiRequest: recorder.probe },
    });
  let local: LocalControlPlane = await start();
  try {
    const token = local.admin?.token;
    if (!token) throw new Error("the local control plane made no first admin");
    const client = () => new GpuctlClient({ endpoint: local.endpoint, token });
    const jobIds: string[] = [];
    for (const spec of campaignJobs(options.jobs, random)) {
      jobIds.push((await client().submitJob(spec)).id);
    }
    log(`submitted ${jobIds.length} job(s) to ${local.endpoint}, state in ${stateDir}`);

    const faults: ChaosResult["faults"] = [];
    for (let index = 0; index < options.faults; index++) {
      await sleep(random.between(200, 1500));
      const kind = random.pick(FAULT_KINDS) as FaultKind;
      const outcome = await injectFault(kind, {
        local: () => local,
        restart: async () => {
          await local.stop();
          local = await start();
        },
        reports: recorder.reports,
        random,
      });
      faults.push({ kind, ...outcome });
      log(
        `fault ${index + 1}/${options.faults} ${kind}: ${"struck" in outcome ? outcome.struck : `skipped, ${outcome.skipped}`}`,
      );
    }

    const jobs = async () =>
      (await Promise.all(jobIds.map((id) => local.cp.jobs.get(id)))).flatMap((record) =>
        record ? [record.job] : [],
      );
    const allInstances = () => listInstances(local.cp, { allOwners: true });
    // Settled: every job ended, and its workflow has freed its instance (its last step,
    // which a busy machine can leave for a while after the end). The campaign's runs last
    // seconds: a job still training when the time is up is the only live one not lost.
    const quiet = async () => {
      const ids = new Set(jobIds);
      if (!(await jobs()).every((job) => isTerminal(job.phase))) return false;
      return (await allInstances()).every(
        (instance) => !("jobId" in instance && instance.jobId && ids.has(instance.jobId)),
      );
    };
    const untilSettled = async (deadline: number) => {
      while (Date.now() < deadline && !(await quiet())) await sleep(250);
    };
    await untilSettled(Date.now() + (options.settleMs ?? 120_000));

    // The storm is over: one reaper period after it, what the reaper finds is what it ends.
    local.faults.clear();
    await local.reapNow();
    // A job the reaper requeued is placed again, and one still training ends: each gets its
    // time to settle.
    await untilSettled(Date.now() + RESETTLE_MS);
    const instances = await allInstances();
    const compute = await local.cp.compute.list();
    const violations = checkRun({
      jobs: await jobs(),
      instances,
      compute,
      driven: (job) => job.phase === "TRAINING",
      now: new Date().toISOString(),
      graceS: 0,
    });
    const struck = faults.filter((fault) => "struck" in fault).length;
    const seconds = Math.round((Date.now() - started) / 1000);
    for (const [what, ids] of Object.entries(violations))
      if (ids.length > 0) log(`${what}: ${ids.join(", ")}`);
    for (const jobId of violations.lost) log(`${jobId}: ${await historyOf(local, jobId)}`);
    for (const id of [...violations.orphans, ...violations.doubleAssigned]) {
      const record = instances.find((instance) => instance.id === id);
      const state = compute.find((instance) => instance.instanceId === id)?.state;
      log(`${id}: ${JSON.stringify(record ?? "no record")}, compute ${state ?? "none"}`);
      if (record && "jobId" in record)
        log(`${record.jobId}: ${await historyOf(local, record.jobId)}`);
    }
    const summary = `chaos seed=${options.seed} seconds=${seconds} jobs=${jobIds.length} faults=${struck} ${summaryCounts(violations)}`;
    return { summary, violations, faults, seconds };
  } finally {
    await local.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
};

const main = async () => {
  const { values } = parseArgs({
    options: {
      seed: { type: "string", default: "1" },
      jobs: { type: "string", default: "4" },
      faults: { type: "string", default: "6" },
      "settle-s": { type: "string", default: "120" },
    },
  });
  const numbers = [values.seed, values.jobs, values.faults, values["settle-s"]].map(Number);
  if (!numbers.every((n) => Number.isInteger(n) && n >= 0))
    throw new Error("--seed, --jobs, --faults and --settle-s take whole numbers");
  const [seed, jobs, faults, settleS] = numbers as [number, number, number, number];
  const result = await runChaos({
    seed,
    jobs,
    faults,
    settleMs: settleS * 1000,
    log: (line) => console.log(line),
  });
  console.log(result.summary);
  process.exitCode = clean(result.violations) ? 0 : 1;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
