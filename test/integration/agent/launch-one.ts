/**
 * A stand-in control plane for the "agents die with it" test: builds a ProcessCompute on
 * argv[2], launches one instance whose agent talks to argv[3] with token argv[4], prints
 * `{ instanceId, pid }` and stays alive until it is killed.
 */
import { ProcessCompute } from "../../../lambdas/adapters/local/process-compute.ts";

const [stateDir, endpoint, token] = process.argv.slice(2);
if (!stateDir || !endpoint || !token)
  throw new Error("usage: launch-one.ts <stateDir> <endpoint> <token>");
const compute = new ProcessCompute({ stateDir, gpuProbe: async () => false });
const instanceId = "local-one";
await compute.launch({
  instanceId,
  instanceType: "local",
  spot: false,
  region: "local",
  jobId: "job-1",
  owner: "ada",
  envHash: "sha256:env",
  agent: { endpoint, token },
});
process.stdout.write(`${JSON.stringify({ instanceId, pid: compute.describe(instanceId)?.pid })}\n`);
setInterval(() => {}, 60_000);
