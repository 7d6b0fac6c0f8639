/**
 * A requeued or retried job resumes from its checkpoint: the command that sends its model
 * and data carries every file its earlier attempts saved under `checkpointDir`, each with a
 * download URL its agent may use, and nothing else of its results.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { Artifacts } from "../../../lambdas/ports.ts";
import { type AgentStep, dispatchStep } from "../../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores, newRecord } from "../stores.ts";

const AT = "2026-01-01T00:00:00.000Z";

/** The job's results, two to a page, as S3 lists them; each download URL names who may use it. */
const RESULTS = ["ckpt/a.pt", "ckpt/nested/b.pt", "ckpt-other/c.pt", "logs/stdout.log", "model.pt"];
const artifacts: Pick<Artifacts, "listOutputs" | "outputDownload" | "inputDownload"> = {
  inputDownload: async (_owner, sha256) => `http://artifacts/inputs/${sha256}`,
  listOutputs: async (_jobId, page = {}) => {
    const start = Number(page.cursor ?? 0);
    const items = RESULTS.slice(start, start + 2);
    return start + 2 < RESULTS.length ? { items, cursor: String(start + 2) } : { items };
  },
  outputDownload: async (jobId, path, reader = "owner") => `http://${reader}/${jobId}/${path}`,
};

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/** The command `step` of a job (with `checkpointDir`, or none) sends to its agent. */
const commandFor = async (id: string, step: AgentStep, checkpointDir?: string) => {
  const commands = new MemoryCommandQueue();
  const cp = {
    ...stores.at(AT),
    commands,
    artifacts,
    settings: { agent: { secret: "secret" } },
  } as unknown as ControlPlane;
  const phase = step === "sendInputs" ? "SENDING_MODEL_AND_DATA" : "TRAINING";
  const job: Job = { ...newRecord({ id }).job, phase, instanceId: "i-1", requeues: 1 };
  const record = newRecord({ id }, { job });
  const spec = checkpointDir ? { ...record.spec, checkpointDir } : record.spec;
  await stores.jobs.submit({ record: { ...record, spec } });
  await dispatchStep(cp, { jobId: id, step, taskToken: `token-${id}` });
  const command = await commands.next("i-1", 0);
  if (!command || !("job" in command)) throw new Error(`no ${step} command`);
  return command.job;
};

describe("the checkpoint a later attempt gets", () => {
  it("sends every file saved under checkpointDir, by the agent's URLs, with the inputs", async () => {
    const job = await commandFor("resumed", "sendInputs", "ckpt/");
    expect(job.checkpoint).toEqual([
      { path: "ckpt/a.pt", url: "http://agent/resumed/ckpt/a.pt" },
      { path: "ckpt/nested/b.pt", url: "http://agent/resumed/ckpt/nested/b.pt" },
    ]);
  });

  it("sends none to a job without checkpointDir, nor with any other step", async () => {
    expect((await commandFor("no-dir", "sendInputs")).checkpoint).toBeUndefined();
    expect((await commandFor("running", "run", "ckpt")).checkpoint).toBeUndefined();
  });
});
