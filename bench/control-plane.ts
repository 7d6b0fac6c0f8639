/**
 * `npm run bench:control-plane [-- --jobs 200 --concurrency 1,32]`: runs happy-path training
 * jobs (`run: true`) through the local control plane, the real API, ASL files, use cases and
 * agent processes, and reports what one job costs the control plane (state transitions,
 * Lambda invocations, DynamoDB capacity, events, API requests, $ per 1,000 jobs at AWS
 * prices) and how fast it starts on a new instance and on a warm (cooling) one.
 *
 * Every billed request is charged to the job it serves: the local control plane's probes run
 * each workflow task and API request in an AsyncLocalStorage scope that names the job, and the
 * DynamoDB middleware, the launch probe and the event subscriber add to the current scope.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdtemp, readdir, readlink, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { POLL_WAIT_S } from "../agent/config.ts";
import {
  type LocalProbes,
  startLocalControlPlane,
} from "../lambdas/adapters/local/local-control-plane.ts";
import type { JobSpecInput } from "../lambdas/domain/job-spec.ts";
import type { StatusEvent } from "../lambdas/domain/status-events.ts";
import { GpuctlClient } from "../sdk/client.ts";
import { AWS_PRICES, costOf } from "./aws-prices.ts";

/** Assumed memory of every Lambda function (API and tasks): thin handlers, one SDK client. */
const LAMBDA_MEMORY_MB = 256;
/**
 * A warm pool's cooling period: long enough for the next job to claim the instance, short
 * enough that every cooling execution the run starts also ends, and is counted, in the run.
 */
const WARM_COOLING_S = 5;
/** Time for the last warm period's expiry (a stop: the agent's shutdown) to be done. */
const DRAIN_MARGIN_S = 10;
const GOALS = { transitionsPerJob: 15, usdPer1000Jobs: 0.4, warmTrainingP50Ms: 1_000 };
/** An instant job that takes this long is stuck: the bench stops rather than wait for LOST. */
const JOB_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------------
// Attribution: what each job caused, by kind.

type Tally = Map<string, number>;
const add = (tally: Tally, key: string, n = 1) => tally.set(key, (tally.get(key) ?? 0) + n);

/** Who pays for what runs in it (a job id, or a bucket in brackets), and who asked. */
interface Scope {
  owner: string | undefined;
  caller: string;
  tally: Tally;
}
const IDLE_POLLS = "[idle agent polls]";
const OUTSIDE = "[outside any request]";

/** DynamoDB requests that report capacity, and which unit they consume. */
const CAPACITY: Record<string, "rru" | "wru"> = {
  GetItemCommand: "rru",
  QueryCommand: "rru",
  ScanCommand: "rru",
  BatchGetItemCommand: "rru",
  TransactGetItemsCommand: "rru",
  PutItemCommand: "wru",
  UpdateItemCommand: "wru",
  DeleteItemCommand: "wru",
  BatchWriteItemCommand: "wru",
  TransactWriteItemsCommand: "wru",
};

/** Agent and user routes; `$1`, when captured, is the job (the instance, for a poll). */
const ROUTES: Array<[RegExp, string]> = [
  [/^POST \/v1\/jobs$/, "api:submit"],
  [/^POST \/agent\/v1\/instances\/([^/]+)\/poll$/, "api:poll"],
  [/^POST \/agent\/v1\/tasks\/succeed$/, "api:report success"],
  [/^POST \/agent\/v1\/tasks\/fail$/, "api:report failure"],
  [/^POST \/agent\/v1\/tasks\/heartbeat$/, "api:heartbeat"],
  [/^POST \/agent\/v1\/jobs\/([^/]+)\/timeline$/, "api:timeline"],
  [/^POST \/agent\/v1\/jobs\/([^/]+)\/endpoint$/, "api:endpoint"],
  [/^POST \/agent\/v1\/jobs\/([^/]+)\/results$/, "api:result uploads"],
  // On AWS these go to S3 through presigned URLs, not through the API.
  [/^PUT \/agent\/v1\/artifacts\/jobs\/([^/]+)\//, "s3:result upload"],
  [/^GET \/agent\/v1\/artifacts\//, "s3:input download"],
];

const routeOf = (request: Request): { kind: string; id?: string } => {
  const line = `${request.method} ${new URL(request.url).pathname}`;
  for (const [pattern, kind] of ROUTES) {
    const match = pattern.exec(line);
    if (match) return match[1] ? { kind, id: decodeURIComponent(match[1]) } : { kind };
  }
  return { kind: `api:other ${request.method}` };
};

/** An agent's task token is the sealed task (lambdas/use-cases/agent-steps.ts): it names the job. */
const jobOfReport = async (request: Request): Promise<string | undefined> => {
  const body = (await request
    .clone()
    .json()
    .catch(() => undefined)) as { taskToken?: string } | undefined;
  try {
    return JSON.parse(Buffer.from(body?.taskToken ?? "", "base64url").toString("utf8")).jobId;
  } catch {
    return undefined;
  }
};

/** A submit answers with the job; a poll with a command for one (or nothing: an idle poll). */
const jobOfAnswer = async (response: Response): Promise<string | undefined> => {
  if (response.status !== 200 && response.status !== 201) return undefined;
  const body = (await response
    .clone()
    .json()
    .catch(() => ({}))) as { id?: string; jobId?: string; job?: { jobId?: string } };
  return body.id ?? body.job?.jobId ?? body.jobId;
};

const createMeter = () => {
  const scopes = new AsyncLocalStorage<Scope>();
  const outside: Scope = { owner: OUTSIDE, caller: "startup", tally: new Map() };
  const charged: Scope[] = [outside];
  const current = () => scopes.getStore() ?? outside;
  const launchCalledAt = new Map<string, number>();
  const trainingAt = new Map<string, number>();
  const finalPhase = new Map<string, string>();
  const placements = new Map<string, string>();
  /** The jobs that held each instance, in order: the k-th one released it into cooling epoch k. */
  const holders = new Map<string, string[]>();
  const hold = (instanceId: string, jobId: string) => {
    const held = holders.get(instanceId) ?? [];
    if (held.at(-1) !== jobId) held.push(jobId);
    holders.set(instanceId, held);
  };
  const coolingOwner = (instanceId: string, epoch: number) => holders.get(instanceId)?.[epoch - 1];

  /** Runs `work` as one Lambda invocation charged to `scope`. */
  const invocation = async <T>(scope: Scope, work: () => Promise<T>): Promise<T> => {
    charged.push(scope);
    const started = performance.now();
    try {
      return await scopes.run(scope, work);
    } finally {
      add(scope.tally, "lambda ms", performance.now() - started);
    }
  };

  const probes: LocalProbes = {
    dynamodb: (client: DynamoDBClient) =>
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const unit = CAPACITY[context.commandName ?? ""];
          if (!unit) return next(args);
          const { tally } = current();
          add(tally, "dynamodb requests");
          try {
            const result = await next({
              ...args,
              input: { ...args.input, ReturnConsumedCapacity: "TOTAL" },
            });
            const { ConsumedCapacity } = result.output as {
              ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }>;
            };
            for (const consumed of [ConsumedCapacity ?? []].flat()) {
              add(tally, unit, consumed.CapacityUnits ?? 0);
            }
            return result;
          } catch (error) {
            // A refused conditional write consumes capacity on AWS but reports none.
            add(tally, "dynamodb refused writes");
            throw error;
          }
        },
        { step: "initialize", name: "benchConsumedCapacity" },
      ),
    task: (name, payload, invoke) => {
      const { jobId, instanceId, coolingEpoch } = payload as {
        jobId?: string;
        instanceId?: string;
        coolingEpoch?: number;
      };
      const owner = jobId ?? coolingOwner(instanceId ?? "", coolingEpoch ?? 0);
      const scope: Scope = { owner, caller: `task:${name}`, tally: new Map([[`task:${name}`, 1]]) };
      return invocation(scope, invoke).then((result) => {
        const placement = (result as { placement?: string } | undefined)?.placement;
        if (jobId && placement) placements.set(jobId, placement);
        return result;
      });
    },
    apiRequest: async (request, handle) => {
      const { kind, id } = routeOf(request);
      const poll = kind === "api:poll";
      const report = kind.startsWith("api:report") || kind === "api:heartbeat";
      const scope: Scope = {
        owner: id && !poll ? id : report ? await jobOfReport(request) : undefined,
        caller: kind,
        tally: new Map(),
      };
      if (kind.startsWith("s3:")) {
        add(scope.tally, kind);
        charged.push(scope);
        return scopes.run(scope, handle);
      }
      // On AWS the agent reads its own SQS queue instead (docs/aws.md, "Command delivery"):
      // no API request, Lambda or table read; a command costs its SendMessage, ReceiveMessage
      // and DeleteMessage, an empty poll one ReceiveMessage.
      const response = poll
        ? await scopes.run({ owner: undefined, caller: kind, tally: new Map() }, handle)
        : await invocation(scope, handle);
      const commanded = poll ? await jobOfAnswer(response) : undefined;
      if (poll) charged.push(scope);
      // A poll that brought no command waited on the instance's last job, running or cooling.
      add(scope.tally, poll ? "sqs requests" : kind, poll ? (commanded ? 3 : 1) : 1);
      scope.owner ??=
        kind === "api:submit"
          ? await jobOfAnswer(response)
          : poll
            ? (commanded ?? holders.get(id ?? "")?.at(-1) ?? IDLE_POLLS)
            : OUTSIDE;
      return response;
    },
    launch: async (request, launch) => {
      const scope = current();
      add(scope.tally, "ec2 launches");
      if (scope.owner) launchCalledAt.set(scope.owner, performance.now());
      // The agent polls before the instance's first event: its polls are the job's already.
      if (scope.owner) hold(request.instanceId, scope.owner);
      await launch();
    },
  };

  const onEvent = (event: StatusEvent) => {
    add(current().tally, "events");
    const at = performance.now();
    if (event["detail-type"] === "Job Status Changed") {
      const { jobId, phase } = event.detail.data;
      finalPhase.set(jobId, phase);
      if (phase === "TRAINING" && !trainingAt.has(jobId)) trainingAt.set(jobId, at);
      return;
    }
    const { instanceId, jobId } = event.detail.data;
    if (jobId) hold(instanceId, jobId);
  };

  /** Everything charged to each owner, summed; write units also by caller. */
  const accounts = (): Map<string, Tally> => {
    const byOwner = new Map<string, Tally>();
    for (const { owner, caller, tally } of charged) {
      const account = byOwner.get(owner ?? OUTSIDE) ?? new Map();
      for (const [key, n] of tally) add(account, key, n);
      add(account, `wru by ${caller}`, tally.get("wru") ?? 0);
      byOwner.set(owner ?? OUTSIDE, account);
    }
    return byOwner;
  };

  return {
    probes,
    onEvent,
    accounts,
    coolingOwner,
    launchCalledAt,
    trainingAt,
    finalPhase,
    placements,
  };
};
type Meter = ReturnType<typeof createMeter>;

// ---------------------------------------------------------------------------------------------
// Running jobs.

type Plane = Awaited<ReturnType<typeof startLocalControlPlane>> & { client: GpuctlClient };
type Kind = "cold" | "warm" | "warm-up";

interface JobRun {
  id: string;
  kind: Kind;
  concurrency: number;
  submittedAt: number;
}

/** An instant training job; its env decides which instances may run it warm. */
const trainingJob = (env: Record<string, string>, coolingPeriodS: number): JobSpecInput => ({
  name: "bench",
  instance: { types: ["local"] },
  run: "true",
  env,
  coolingPeriodS,
});

/** Submits through the API and waits until the job's lifecycle execution has ended. */
const runJob = async (plane: Plane, spec: JobSpecInput) => {
  const submittedAt = performance.now();
  const { id } = await plane.client.submitJob(spec);
  const lifecycle = plane.workflows
    .executions()
    .find(({ machine, name }) => machine === "job-lifecycle" && name === id);
  if (!lifecycle) throw new Error(`job ${id} has no lifecycle execution`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`job ${id} did not end`)), JOB_TIMEOUT_MS);
  });
  await Promise.race([plane.workflows.whenDone(lifecycle.executionId), stuck]).finally(() =>
    clearTimeout(timer),
  );
  return { id, submittedAt };
};

/** `count` jobs, `concurrency` at a time: each worker submits its next job when one ends. */
const runJobs = async (
  plane: Plane,
  count: number,
  concurrency: number,
  kind: Kind,
  specOf: (index: number) => JobSpecInput,
): Promise<JobRun[]> => {
  const runs: JobRun[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      runs.push({ ...(await runJob(plane, specOf(index))), kind, concurrency });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return runs;
};

/**
 * Waits for the executions to end, cooling timers included, so each is counted whole. A
 * cooling plan may keep an instance stopped for hours before it terminates it: executions
 * still waiting once every warm period is over are counted as far as they got.
 */
const drain = async (plane: Plane): Promise<number> => {
  const running = new Set(plane.workflows.executions().map(({ executionId }) => executionId));
  const ended = [...running].map((executionId) =>
    plane.workflows.whenDone(executionId).then(() => running.delete(executionId)),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const enough = new Promise((resolve) => {
    timer = setTimeout(resolve, (WARM_COOLING_S + DRAIN_MARGIN_S) * 1000);
  });
  await Promise.race([Promise.all(ended), enough]).finally(() => clearTimeout(timer));
  return running.size;
};

/**
 * Cold: jobs of an env no instance has, cooling 0 s, so each launches an instance that stops
 * right after it. Warm: `concurrency` warm-up jobs leave as many cooling instances in one pool,
 * then the measured jobs of that pool claim them.
 */
const runCases = async (plane: Plane, jobs: number, concurrencies: number[]) => {
  const cases = concurrencies.length * 2;
  const share = (index: number) => Math.floor(jobs / cases) + (index < jobs % cases ? 1 : 0);
  const runs: JobRun[] = [];
  let stillRunning = 0;
  for (const [level, concurrency] of concurrencies.entries()) {
    const cold = (index: number) => trainingJob({ BENCH_ENV: `cold-${concurrency}-${index}` }, 0);
    runs.push(...(await runJobs(plane, share(2 * level), concurrency, "cold", cold)));
    await drain(plane);
    const pool = () => trainingJob({ BENCH_ENV: `warm-${concurrency}` }, WARM_COOLING_S);
    runs.push(...(await runJobs(plane, concurrency, concurrency, "warm-up", pool)));
    runs.push(...(await runJobs(plane, share(2 * level + 1), concurrency, "warm", pool)));
    stillRunning = await drain(plane);
  }
  return { runs, stillRunning };
};

// ---------------------------------------------------------------------------------------------
// Measurements.

/** A state entered more than once in one execution: a retry never re-enters, so it is a loop. */
const loopsIn = (states: string[]) => states.length - new Set(states).size;

/** The job's lifecycle execution and the cooling execution its release started. */
const transitionsByJob = (plane: Plane, meter: Meter) => {
  const byJob = new Map<string, { lifecycle: number; cooling: number; loops: number }>();
  const entry = (jobId: string) => {
    const found = byJob.get(jobId) ?? { lifecycle: 0, cooling: 0, loops: 0 };
    byJob.set(jobId, found);
    return found;
  };
  let unowned = 0;
  for (const { machine, name, executionId } of plane.workflows.executions()) {
    const states = plane.workflows.statesEntered(executionId);
    const cooling = /^(.+)-cooling-(\d+)-\w+$/.exec(name);
    const jobId =
      machine === "job-lifecycle"
        ? name
        : cooling
          ? meter.coolingOwner(cooling[1] ?? "", Number(cooling[2]))
          : undefined;
    if (!jobId) {
      unowned += states.length;
      continue;
    }
    const counts = entry(jobId);
    if (machine === "job-lifecycle") counts.lifecycle += states.length;
    else counts.cooling += states.length;
    counts.loops += loopsIn(states);
  }
  return { byJob, unowned };
};

interface PerJob {
  jobs: number;
  transitions: { lifecycle: number; cooling: number; total: number; max: number };
  pollingLoops: number;
  tasks: Record<string, number>;
  apiRequests: Record<string, number>;
  lambdaInvocations: number;
  lambdaGbS: number;
  sqsRequests: number;
  dynamodb: {
    rru: number;
    wru: number;
    wruByCaller: Record<string, number>;
    requests: number;
    refusedWrites: number;
  };
  events: number;
  s3Puts: number;
  ec2Launches: number;
}

const sumKeys = (tally: Tally, prefix: string) =>
  Object.fromEntries([...tally].filter(([key]) => key.startsWith(prefix)));
const total = (record: Record<string, number>) =>
  Object.values(record).reduce((sum, n) => sum + n, 0);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The mean of every figure over `jobIds`. */
const perJob = (
  jobIds: string[],
  accounts: Map<string, Tally>,
  transitions: ReturnType<typeof transitionsByJob>["byJob"],
): PerJob => {
  const sum: Tally = new Map();
  let max = 0;
  for (const jobId of jobIds) {
    for (const [key, n] of accounts.get(jobId) ?? []) add(sum, key, n);
    const t = transitions.get(jobId) ?? { lifecycle: 0, cooling: 0, loops: 0 };
    add(sum, "transitions lifecycle", t.lifecycle);
    add(sum, "transitions cooling", t.cooling);
    add(sum, "polling loops", t.loops);
    max = Math.max(max, t.lifecycle + t.cooling);
  }
  const n = Math.max(jobIds.length, 1);
  const mean = (key: string) => (sum.get(key) ?? 0) / n;
  const means = (prefix: string) =>
    Object.fromEntries(
      Object.entries(sumKeys(sum, prefix)).map(([key, value]) => [
        key.slice(prefix.length),
        round(value / n, 3),
      ]),
    );
  const tasks = means("task:");
  const apiRequests = means("api:");
  return {
    jobs: jobIds.length,
    transitions: {
      lifecycle: round(mean("transitions lifecycle")),
      cooling: round(mean("transitions cooling")),
      total: round(mean("transitions lifecycle") + mean("transitions cooling")),
      max,
    },
    pollingLoops: sum.get("polling loops") ?? 0,
    tasks,
    apiRequests,
    lambdaInvocations: round(total(tasks) + total(apiRequests), 3),
    lambdaGbS: round(((mean("lambda ms") / 1000) * LAMBDA_MEMORY_MB) / 1024, 4),
    sqsRequests: round(mean("sqs requests"), 3),
    dynamodb: {
      rru: round(mean("rru")),
      wru: round(mean("wru")),
      wruByCaller: Object.fromEntries(
        Object.entries(means("wru by ")).filter(([, wru]) => wru > 0),
      ),
      requests: round(mean("dynamodb requests")),
      refusedWrites: round(mean("dynamodb refused writes")),
    },
    events: round(mean("events")),
    s3Puts: round(mean("s3:result upload")),
    ec2Launches: round(mean("ec2 launches")),
  };
};

/** Dollars per 1,000 jobs, by AWS service. */
const costPer1000 = (job: PerJob) => {
  const lines = {
    "Step Functions transitions": costOf("stepFunctionsTransition", job.transitions.total),
    "Lambda requests": costOf("lambdaRequest", job.lambdaInvocations),
    "Lambda duration": costOf("lambdaGbSecond", job.lambdaGbS),
    "DynamoDB reads": costOf("dynamoDbReadUnit", job.dynamodb.rru),
    "DynamoDB writes": costOf("dynamoDbWriteUnit", job.dynamodb.wru),
    "EventBridge events": costOf("eventBridgeEvent", job.events),
    "API Gateway requests": costOf("apiGatewayHttpRequest", total(job.apiRequests)),
    "SQS requests": costOf("sqsRequest", job.sqsRequests),
    "S3 PUTs": costOf("s3Put", job.s3Puts),
  };
  const per1000 = Object.fromEntries(
    Object.entries(lines).map(([line, usd]) => [line, round(usd * 1000, 4)]),
  );
  return { total: round(total(per1000), 4), ...per1000 };
};

/**
 * An agent long-polls all the time its instance runs or cools. Here each poll is an HTTP
 * request to the control plane; on AWS it is one ReceiveMessage on the instance's own SQS
 * queue (docs/aws.md, "Command delivery"): no API request, no Lambda, no table read. Priced
 * per instance-hour, as it depends on how long jobs run and instances cool, not on how many
 * jobs there are.
 */
const agentPollsPerHour = () => {
  const perHour = 3600 / POLL_WAIT_S;
  const usd = costOf("sqsRequest", perHour);
  return {
    pollsPerHour: perHour,
    usdPerInstanceHour: round(usd, 6),
    // What 5 minutes of running or cooling per job adds, e.g. the default 300 s cooling period.
    usdPer1000JobsPer5Min: round((usd / 12) * 1000, 4),
  };
};

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN);
};
const spread = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99) });

/** Submit -> compute launch call and submit -> TRAINING, per concurrency, cold and warm. */
const latencies = (runs: JobRun[], meter: Meter, concurrencies: number[]) =>
  Object.fromEntries(
    concurrencies.map((concurrency) => {
      const of = (kind: Kind, placement: string) => {
        const all = runs.filter((run) => run.kind === kind && run.concurrency === concurrency);
        const samples = all.filter((run) => meter.placements.get(run.id) === placement);
        const since = (at: Map<string, number>) =>
          samples.flatMap((run) => {
            const then = at.get(run.id);
            return then === undefined ? [] : [then - run.submittedAt];
          });
        return {
          samples: samples.length,
          ...(samples.length < all.length ? { excluded: all.length - samples.length } : {}),
          ...(kind === "cold" ? { launch: spread(since(meter.launchCalledAt)) } : {}),
          training: spread(since(meter.trainingAt)),
        };
      };
      return [concurrency, { cold: of("cold", "launched"), warm: of("warm", "warm") }];
    }),
  );

// ---------------------------------------------------------------------------------------------
// Cleanup and report.

/** Processes still working in an instance folder of this run: agents that outlived stop(). */
const leftoverAgents = async (stateDir: string): Promise<number[]> => {
  const pids = (await readdir("/proc").catch(() => [])).filter((name) => /^\d+$/.test(name));
  const cwds = await Promise.all(
    pids.map(async (pid) => [Number(pid), await readlink(`/proc/${pid}/cwd`).catch(() => "")]),
  );
  return cwds.flatMap(([pid, cwd]) =>
    String(cwd).startsWith(join(stateDir, "instances")) ? [Number(pid)] : [],
  );
};

const usd = (n: number) => `$${n.toFixed(4)}`;
const ms = (n: number) => (Number.isNaN(n) ? "-" : `${n}`);
const row = (label: string, ...cells: string[]) =>
  console.log(`${label.padEnd(44)}${cells.map((cell) => cell.padStart(22)).join("")}`);

const printTable = (report: ReturnType<typeof buildReport>) => {
  const { cold, warm } = report.perJob;
  console.log(
    `\ngpuctl control-plane bench: ${report.jobs} jobs (+${report.warmUpJobs} warm-up) at concurrency ${report.concurrency.join(", ")}, ${report.durationS} s\n`,
  );
  row("per happy-path training job", "cold (new instance)", "warm (cooling inst.)");
  row("  jobs measured", `${cold.jobs}`, `${warm.jobs}`);
  row(
    "  state transitions (lifecycle + cooling)",
    `${cold.transitions.total} (${cold.transitions.lifecycle}+${cold.transitions.cooling})`,
    `${warm.transitions.total} (${warm.transitions.lifecycle}+${warm.transitions.cooling})`,
  );
  row("  polling loops", `${cold.pollingLoops}`, `${warm.pollingLoops}`);
  const taskNames = [...new Set([...Object.keys(cold.tasks), ...Object.keys(warm.tasks)])];
  row("  workflow task invocations", `${total(cold.tasks)}`, `${total(warm.tasks)}`);
  for (const name of taskNames.sort()) {
    row(`    ${name}`, `${cold.tasks[name] ?? 0}`, `${warm.tasks[name] ?? 0}`);
  }
  const routes = [...new Set([...Object.keys(cold.apiRequests), ...Object.keys(warm.apiRequests)])];
  row("  API requests (user + agent)", `${total(cold.apiRequests)}`, `${total(warm.apiRequests)}`);
  for (const route of routes.sort()) {
    row(`    ${route}`, `${cold.apiRequests[route] ?? 0}`, `${warm.apiRequests[route] ?? 0}`);
  }
  row(
    "  Lambda invocations (tasks + API)",
    `${cold.lambdaInvocations}`,
    `${warm.lambdaInvocations}`,
  );
  row(
    `  Lambda GB-s (${LAMBDA_MEMORY_MB} MB, measured ms)`,
    `${cold.lambdaGbS}`,
    `${warm.lambdaGbS}`,
  );
  row("  DynamoDB RRU", `${cold.dynamodb.rru}`, `${warm.dynamodb.rru}`);
  row("  DynamoDB WRU", `${cold.dynamodb.wru}`, `${warm.dynamodb.wru}`);
  const writers = Object.entries({ ...warm.dynamodb.wruByCaller, ...cold.dynamodb.wruByCaller });
  for (const [caller] of writers.sort(([, a], [, b]) => b - a)) {
    const of = (job: PerJob) => `${job.dynamodb.wruByCaller[caller] ?? 0}`;
    row(`    by ${caller}`, of(cold), of(warm));
  }
  row("  DynamoDB requests", `${cold.dynamodb.requests}`, `${warm.dynamodb.requests}`);
  row(
    "    of them refused (capacity unreported)",
    `${cold.dynamodb.refusedWrites}`,
    `${warm.dynamodb.refusedWrites}`,
  );
  row("  events published", `${cold.events}`, `${warm.events}`);
  row("  S3 PUTs (results and logs)", `${cold.s3Puts}`, `${warm.s3Puts}`);
  row("  EC2 launches", `${cold.ec2Launches}`, `${warm.ec2Launches}`);
  const { cold: coldCost, warm: warmCost } = report.costPer1000Jobs;
  row("AWS $ per 1,000 jobs (us-east-1)", usd(coldCost.total), usd(warmCost.total));
  for (const line of Object.keys(coldCost).filter((key) => key !== "total")) {
    const key = line as keyof typeof coldCost;
    row(`  ${line}`, usd(coldCost[key]), usd(warmCost[key]));
  }
  const polls = report.agentPolls;
  console.log(
    `\nagent long polls while an instance runs or cools: ${polls.pollsPerHour} an hour, each one SQS ReceiveMessage of ${POLL_WAIT_S} s:`,
  );
  console.log(
    `  ${usd(polls.usdPerInstanceHour)} per instance-hour, +${usd(polls.usdPer1000JobsPer5Min)} per 1,000 jobs per 5 minutes each job runs or leaves its instance cooling`,
  );
  console.log(
    "\nlatency, ms               samples   submit -> launch p50/p99   submit -> TRAINING p50/p99",
  );
  for (const [concurrency, { cold: c, warm: w }] of Object.entries(report.latencyMs)) {
    const line = (label: string, s: typeof c, launch: string) =>
      console.log(
        `  ${label.padEnd(22)}${`${s.samples}${s.excluded ? ` (${s.excluded} out)` : ""}`.padStart(9)}${launch.padStart(27)}${`${ms(s.training.p50)} / ${ms(s.training.p99)}`.padStart(29)}`,
      );
    line(`c=${concurrency} cold`, c, c.launch ? `${ms(c.launch.p50)} / ${ms(c.launch.p99)}` : "-");
    line(`c=${concurrency} warm`, w, "-");
  }
  console.log("\ngoals");
  for (const [goal, { value, target, met }] of Object.entries(report.goals)) {
    console.log(
      `  ${met ? "met    " : "NOT MET"}  ${goal}: ${JSON.stringify(value)} (goal ${target})`,
    );
  }
  console.log("");
};

const buildReport = (options: {
  plane: Plane;
  meter: Meter;
  runs: JobRun[];
  jobs: number;
  concurrency: number[];
  leftoverAgents: number;
  stillRunning: number;
  durationS: number;
}) => {
  const { plane, meter, runs } = options;
  const accounts = meter.accounts();
  const transitions = transitionsByJob(plane, meter);
  const happy = (kind: Kind) =>
    runs
      .filter((run) => run.kind === kind && meter.finalPhase.get(run.id) === "COMPLETED")
      .map((run) => run.id);
  const perJobFigures = {
    cold: perJob(happy("cold"), accounts, transitions.byJob),
    warm: perJob(
      happy("warm").filter((id) => meter.placements.get(id) === "warm"),
      accounts,
      transitions.byJob,
    ),
  };
  const costs = { cold: costPer1000(perJobFigures.cold), warm: costPer1000(perJobFigures.warm) };
  const latencyMs = latencies(runs, meter, options.concurrency);
  const everything = [...accounts.values()];
  const capacity = (unit: string) => everything.reduce((sum, t) => sum + (t.get(unit) ?? 0), 0);
  const pollingLoops = [...transitions.byJob.values()].reduce((sum, t) => sum + t.loops, 0);
  const warmP50s = Object.fromEntries(
    Object.entries(latencyMs).map(([concurrency, { warm }]) => [concurrency, warm.training.p50]),
  );
  const maxTransitions = Math.max(
    perJobFigures.cold.transitions.max,
    perJobFigures.warm.transitions.max,
  );
  const maxCost = Math.max(costs.cold.total, costs.warm.total);
  return {
    bench: "control-plane",
    jobs: options.jobs,
    warmUpJobs: runs.filter((run) => run.kind === "warm-up").length,
    concurrency: options.concurrency,
    durationS: options.durationS,
    failedJobs: runs.filter((run) => meter.finalPhase.get(run.id) !== "COMPLETED").length,
    leftoverAgents: options.leftoverAgents,
    perJob: perJobFigures,
    costPer1000Jobs: costs,
    agentPolls: agentPollsPerHour(),
    latencyMs,
    goals: {
      transitionsPerJob: {
        value: maxTransitions,
        target: `<= ${GOALS.transitionsPerJob} (most of any job, lifecycle + cooling)`,
        met: maxTransitions <= GOALS.transitionsPerJob,
      },
      usdPer1000Jobs: {
        value: maxCost,
        target: `<= ${GOALS.usdPer1000Jobs} (cold and warm)`,
        met: maxCost <= GOALS.usdPer1000Jobs,
      },
      warmTrainingP50Ms: {
        value: warmP50s,
        target: `<= ${GOALS.warmTrainingP50Ms} at every concurrency`,
        met: Object.values(warmP50s).every((p50) => p50 <= GOALS.warmTrainingP50Ms),
        metAt: Object.fromEntries(
          Object.entries(warmP50s).map(([c, p50]) => [c, p50 <= GOALS.warmTrainingP50Ms]),
        ),
      },
      pollingLoops: { value: pollingLoops, target: "0", met: pollingLoops === 0 },
    },
    checks: {
      // DynamoDB Local computes consumed capacity as AWS does; zero would mean it reported none.
      consumedCapacityReported: capacity("rru") > 0 && capacity("wru") > 0,
      transitionsOfNoJob: transitions.unowned,
      // Cooling executions that would go on (a stopped period, then terminate): counted so far.
      executionsStillRunningAtTheEnd: options.stillRunning,
      chargedToNoJob: Object.fromEntries(
        [IDLE_POLLS, OUTSIDE].map((bucket) => [
          bucket,
          Object.fromEntries(accounts.get(bucket) ?? []),
        ]),
      ),
    },
    assumptions: {
      lambdaMemoryMb: LAMBDA_MEMORY_MB,
      lambdaDuration: "measured wall time of each handler here, long-poll waits included",
      userRequests: "one submit per job; the bench watches the event bus, not GET /v1/jobs",
      warmCoolingS: WARM_COOLING_S,
      agentPollWaitS: POLL_WAIT_S,
    },
    prices: AWS_PRICES,
  };
};

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "200" },
      concurrency: { type: "string", default: "1,32" },
    },
  });
  const jobs = Number(values.jobs);
  const concurrency = values.concurrency.split(",").map(Number);
  if (
    !(Number.isInteger(jobs) && jobs > 0) ||
    !concurrency.every((c) => Number.isInteger(c) && c > 0)
  )
    throw new Error("--jobs takes a positive integer, --concurrency a list of them (1,32)");

  const started = performance.now();
  const stateDir = await realpath(await mkdtemp(join(tmpdir(), "gpuctl-bench-")));
  const meter = createMeter();
  let plane: Plane | undefined;
  let runs: JobRun[];
  let stillRunning: number;
  let leftover: number[];
  try {
    const local = await startLocalControlPlane({
      stateDir,
      inMemory: true,
      agentEnv: { GPUCTL_HEARTBEAT_S: "5" },
      onEvent: meter.onEvent,
      probes: meter.probes,
    });
    plane = {
      ...local,
      client: new GpuctlClient({
        endpoint: local.endpoint,
        ...(local.admin ? { token: local.admin.token } : {}),
      }),
    };
    ({ runs, stillRunning } = await runCases(plane, jobs, concurrency));
  } finally {
    await plane?.stop();
    // An agent that outlived stop() is one this run started: end it, and say so.
    leftover = await leftoverAgents(stateDir);
    for (const pid of leftover) process.kill(pid, "SIGKILL");
    await rm(stateDir, { recursive: true, force: true });
  }
  const report = buildReport({
    plane,
    meter,
    runs,
    jobs,
    concurrency,
    leftoverAgents: leftover.length,
    stillRunning,
    durationS: round((performance.now() - started) / 1000, 1),
  });
  printTable(report);
  console.log(JSON.stringify(report));
  const failed = report.failedJobs > 0 || report.leftoverAgents > 0;
  process.exitCode = failed ? 1 : 0;
};

await main();
