import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type LocalOptions,
  startLocalControlPlane,
} from "../../lambdas/adapters/local/local-control-plane.ts";
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import type { StatusEvent } from "../../lambdas/domain/status-events.ts";
import type { JobView } from "../../sdk/api-types.ts";
import { GpuctlClient } from "../../sdk/client.ts";
import { contractProblems } from "../contract/responses.ts";

type ApiRequestProbe = NonNullable<NonNullable<LocalOptions["probes"]>["apiRequest"]>;

/**
 * A local control plane of its own for one test file: in-memory DynamoDB, a temporary state
 * folder. Every answer it gives is held to the API's contract; `stop` fails on any that broke it.
 */
export const startTestControlPlane = async (options: Partial<LocalOptions> = {}) => {
  const stateDir = await mkdtemp(join(tmpdir(), "gpuctl-e2e-"));
  const events: StatusEvent[] = [];
  const contractBreaches: string[] = [];
  const apiRequest: ApiRequestProbe =
    options.probes?.apiRequest ?? ((_request, handle) => handle());
  const local = await startLocalControlPlane({
    stateDir,
    inMemory: true,
    backoffMs: 50,
    agentEnv: { GPUCTL_HEARTBEAT_S: "1" },
    onEvent: (event) => events.push(event),
    ...options,
    probes: {
      ...options.probes,
      apiRequest: async (request, handle) => {
        const response = await apiRequest(request, handle);
        contractBreaches.push(
          ...(await contractProblems(request.method, request.url, response.clone())),
        );
        return response;
      },
    },
  });
  // A fresh table: the control plane has just made its first admin, whose token this is.
  const userToken = local.admin?.token;
  if (!userToken) throw new Error("the local control plane made no first admin");
  const client = new GpuctlClient({ endpoint: local.endpoint, token: userToken });

  /** Polls the job until `done` holds, failing with the job's last state after `timeoutMs`. */
  const waitFor = async (jobId: string, done: (job: JobView) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await client.getJob(jobId);
      if (done(job)) return job;
      if (Date.now() > deadline)
        throw new Error(`job ${jobId} stuck in ${job.phase} (${job.reason ?? "no reason"})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const finished = (jobId: string, timeoutMs?: number) =>
    waitFor(jobId, (job) => job.terminal, timeoutMs);
  const phasesOf = async (jobId: string) =>
    (await client.jobEvents(jobId)).map((event) => event.phase);

  return {
    ...local,
    userToken,
    stateDir,
    client,
    events,
    waitFor,
    finished,
    phasesOf,
    contractBreaches,
    stop: async () => {
      await local.stop();
      await rm(stateDir, { recursive: true, force: true });
      if (contractBreaches.length)
        throw new Error(`answers broke the API's contract:\n${contractBreaches.join("\n")}`);
    },
  };
};

/** The phases of a training job placed at its first try that completes. */
export const FULL_RUN = [
  "SUBMITTED",
  "REQUESTING_SERVER",
  "CONNECTING_SERVER",
  "GEARING_UP_ENV",
  "SENDING_MODEL_AND_DATA",
  "TRAINING",
  "RETURNING",
  "COMPLETED",
];

/** A quick training job: a checkpoint per epoch and a result file, in plain Python. */
export const trainingSpec = (overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: "quick-train",
  instance: { types: ["local"] },
  setup: "python3 -c 'print(\"env ready\")'",
  run: [
    'python3 -c "',
    "import json, os, time",
    "os.makedirs('checkpoints', exist_ok=True); os.makedirs('results', exist_ok=True)",
    "[open(f'checkpoints/epoch-{e}.json', 'w').write(json.dumps({'epoch': e})) for e in range(3)]",
    "open('results/model.json', 'w').write(json.dumps({'loss': 0.01}))",
    "print('trained')\"",
  ].join("\n"),
  outputs: ["results"],
  checkpointDir: "checkpoints",
  coolingPeriodS: 60,
  ...overrides,
});

/**
 * An inference deployment of model `name` whose server answers every GET with `answer`, on
 * the port the agent gives it in `PORT` (`port` is the one the spec asks for).
 */
export const servingSpec = (
  name: string,
  answer: string,
  serve: { port: number; healthPath: string },
): JobSpecInput => ({
  name,
  kind: "inference",
  modelName: name,
  instance: { types: ["local"] },
  run: [
    'python3 -c "',
    "import http.server, os",
    "class H(http.server.BaseHTTPRequestHandler):",
    "    def do_GET(self):",
    `        self.send_response(200); self.end_headers(); self.wfile.write(b'${answer}')`,
    "    def log_message(self, *a): pass",
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\"",
  ].join("\n"),
  serve,
  env: { PORT: String(serve.port) },
});
