import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import { ProcessCompute } from "../../../lambdas/adapters/local/process-compute.ts";
import { FakeControlPlane } from "../agent/fake-control-plane.ts";
import { computeContract } from "./compute.contract.ts";

let cp: FakeControlPlane;
let root: string;
const computes: ProcessCompute[] = [];
beforeAll(async () => {
  cp = await new FakeControlPlane().start();
  root = await mkdtemp(join(tmpdir(), "gpuctl-compute-contract-"));
});
afterEach(async () => {
  await Promise.all(computes.splice(0).map((compute) => compute.shutdown()));
});
afterAll(async () => {
  await cp?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("the Compute contract: local processes", () => {
  computeContract(async () => {
    const compute = new ProcessCompute({
      stateDir: join(root, `state-${computes.length}-${Date.now()}`),
      gpuProbe: async () => false,
    });
    computes.push(compute);
    return { compute, instanceType: "local", agent: { endpoint: cp.url, token: cp.token } };
  });
});
