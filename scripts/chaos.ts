/**
 * A seeded chaos campaign against the local control plane: `npm run chaos -- --seed S
 * --jobs N --faults M [--settle-s T]` submits N jobs, injects M faults drawn from the seed
 * while they run (agent kills, restarts, capacity errors, throttling, spot notices,
 * duplicate and late agent reports), gives the jobs T seconds (120 by default) to end or be
 * training, runs the reaper once, and checks that no job is lost, no instance is held by
 * two jobs and no instance runs without a purpose. Its last line ends `jobs=N faults=M
 * lost=0 orphans=0 double_assigned=0`; it exits non-zero when any count is not zero.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../lambdas/adapters/local/dynamodb-local.ts";
import { startLocalControlPlane } from "../lambdas/adapters/local/local-control-plane.ts";
import { INSTANCE_STATUSES } from "../lambdas/domain/instance.ts";
import { isTerminal } from "../lambdas/domain/phases.ts";
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

/** A job the campaign can leave as it is: ended, or training. */
const settled = (phase: Parameters<typeof isTerminal>[0]) =>
  isTerminal(phase) || phase === "TRAINING";

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
      agentEnv: { GPUCTL_HEARTBEAT_S: "1" },
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

    const deadline = Date.now() + (options.settleMs ?? 120_000);
    const jobs = async () =>
      (await Promise.all(jobIds.map((id) => local.cp.jobs.get(id)))).flatMap((record) =>
        record ? [record.job] : [],
      );
    while (Date.now() < deadline && !(await jobs()).every((job) => settled(job.phase)))
      await sleep(250);

    // The storm is over: one reaper period after it, what the reaper finds is what it ends.
    local.faults.clear();
    await local.reapNow();
    const instances = (
      await Promise.all(INSTANCE_STATUSES.map((status) => local.cp.instances.listByStatus(status)))
    ).flat();
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
