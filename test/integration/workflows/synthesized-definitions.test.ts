/**
 * What deploys is what runs: the state machines' definitions and substitutions are taken
 * from the synthesized template, each substitution's function is mapped to the workflow
 * task its entry file bundles, and a job's lifecycle and its instance's cooling run through
 * the local control plane on those definitions, with those tasks.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskFunctions } from "../../../lambdas/adapters/local/local-control-plane.ts";
import { LAMBDA_ENTRIES, type LambdaName } from "../../../lambdas/handlers/lambda/entries.ts";
import { WORKFLOW_TASKS, type WorkflowTaskName } from "../../../lambdas/handlers/workflow/tasks.ts";
import type { StateMachineName } from "../../../lambdas/ports.ts";
import { startTestControlPlane, trainingSpec } from "../../e2e/local-control-plane.ts";
import { synthesizeControlPlane } from "../../infra/control-plane.ts";
import { type SynthesizedMachine, synthesizedMachines } from "../../infra/synthesized-machines.ts";

const ENTRIES_DIR = join(import.meta.dirname, "../../../lambdas/handlers/lambda");

/** The workflow task an entry file hands its Lambda: the one it imports from tasks.ts. */
const taskOfEntry = (name: LambdaName): WorkflowTaskName => {
  const source = readFileSync(join(ENTRIES_DIR, LAMBDA_ENTRIES[name]), "utf8");
  const imported = /import \{ (\w+) \} from "\.\.\/\.\.\/workflow\/tasks\.ts"/.exec(source)?.[1];
  if (!imported || !(imported in WORKFLOW_TASKS))
    throw new Error(`${LAMBDA_ENTRIES[name]} imports no workflow task`);
  return imported as WorkflowTaskName;
};

/**
 * The definition as deployed, each placeholder renamed to the logical id of the function
 * its substitution names, so the local runner binds each state to that function alone.
 */
const byFunction = ({ definition, substitutions }: SynthesizedMachine) =>
  definition.replace(/\$\{(\w+)\}/g, (whole, placeholder: string) => {
    const fn = substitutions[placeholder];
    if (!fn) throw new Error(`${whole} has no substitution`);
    return `\${${fn.logicalId}}`;
  });

const machines = synthesizedMachines((await synthesizeControlPlane()).template);
const functions = machines.flatMap(({ substitutions }) => Object.values(substitutions));
/** The functions invoked, by their construct's name, in order. */
const invoked: LambdaName[] = [];

let folder: string;
let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "gpuctl-synthesized-"));
  const definitions = {} as Record<StateMachineName, string>;
  for (const machine of machines) {
    definitions[machine.machine] = join(folder, `${machine.machine}.asl.json`);
    await writeFile(definitions[machine.machine], byFunction(machine));
  }
  const tasks = (byName: TaskFunctions): TaskFunctions =>
    Object.fromEntries(
      functions.map(({ logicalId, name }) => {
        const task = byName[taskOfEntry(name)];
        if (!task) throw new Error(`no task ${taskOfEntry(name)}`);
        return [
          logicalId,
          (payload: unknown) => {
            invoked.push(name);
            return task(payload);
          },
        ];
      }),
    );
  plane = await startTestControlPlane({ workflows: { definitions, tasks } });
});
afterAll(async () => {
  await plane?.stop();
  await rm(folder, { recursive: true, force: true });
});

describe("the synthesized state machines, run with the tasks their functions bundle", () => {
  it("take a job through its lifecycle, then its instance through its cooling", async () => {
    const submitted = await plane.client.submitJob(trainingSpec({ coolingPeriodS: 1 }));
    const done = await plane.finished(submitted.id);
    expect(done.phase).toBe("COMPLETED");

    const deadline = Date.now() + 20_000;
    let status: string | undefined;
    while (status !== "CLOSED" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await plane.client.listInstances()).find(
        ({ id }) => id === done.instanceId,
      )?.status;
    }
    expect(status).toBe("CLOSED");

    expect(invoked).toEqual(
      expect.arrayContaining([
        "AcquireInstanceFunction",
        "DispatchStepFunction",
        "ReleaseInstanceFunction",
        "ExpireCoolingFunction",
      ]),
    );
    expect(invoked.indexOf("ExpireCoolingFunction")).toBeGreaterThan(
      invoked.indexOf("ReleaseInstanceFunction"),
    );
  });
});
