#!/usr/bin/env node
/**
 * `npm start`: the local control plane, on DynamoDB Local, the ASL files run by
 * aws-local-stepfunctions, and agent processes as instances. It writes the CLI's config
 * (~/.gpuctl/config.json, or GPUCTL_CONFIG) so `gpuctl` finds it with no other set-up,
 * signed in as whoever it was signed in as while this control plane still accepts their token
 * (someone who ran `gpuctl login`), else as the first admin (made on the first start,
 * GPUCTL_ADMIN_EMAIL).
 */
import { join } from "node:path";
import { parseComputeFaultRules } from "../lambdas/adapters/local/compute-faults.ts";
import { startLocalControlPlane } from "../lambdas/adapters/local/local-control-plane.ts";
import type { StatusEvent } from "../lambdas/domain/status-events.ts";
import { authenticate } from "../lambdas/use-cases/access-tokens.ts";
import { configPath, localSignIn, savedConfig, writeConfig } from "../sdk/config.ts";

const stateDir = process.env.GPUCTL_STATE_DIR ?? join(process.cwd(), ".gpuctl-state");
const port = Number(process.env.GPUCTL_PORT ?? 0);

const describe = (event: StatusEvent): string => {
  const time = event.detail.metadata.time.slice(11, 19);
  if (event["detail-type"] === "Job Status Changed") {
    const { jobId, from, phase, reason, event: cause } = event.detail.data;
    return `${time}  job ${jobId}  ${from ? `${from} -> ` : ""}${phase}${reason ? ` (${reason})` : ""}  [${cause}]`;
  }
  const { instanceId, status, substatus, jobId } = event.detail.data;
  return `${time}  instance ${instanceId}  ${status}${substatus ? `/${substatus}` : ""}${jobId ? `  job ${jobId}` : ""}`;
};

const adminEmail = process.env.GPUCTL_ADMIN_EMAIL;
const faults = (() => {
  try {
    return parseComputeFaultRules(process.env.GPUCTL_FAULTS);
  } catch (error) {
    console.error(`gpuctl: ${(error as Error).message}`);
    process.exit(1);
  }
})();
/** GPUCTL_REAPER_INTERVAL_S: how often the reaper runs (60 s by default; 0 never). */
const reaperIntervalS = process.env.GPUCTL_REAPER_INTERVAL_S;
if (reaperIntervalS && !(Number(reaperIntervalS) >= 0)) {
  console.error(
    `gpuctl: GPUCTL_REAPER_INTERVAL_S must be a number of seconds, not ${reaperIntervalS}`,
  );
  process.exit(1);
}
const local = await startLocalControlPlane({
  stateDir,
  port,
  ...(reaperIntervalS ? { reaperIntervalMs: Number(reaperIntervalS) * 1000 } : {}),
  ...(adminEmail ? { adminEmail } : {}),
  faults,
  onEvent: (event) => console.log(describe(event)),
}).catch((error: Error) => {
  console.error(`gpuctl: the local control plane did not start: ${error.message}`);
  process.exit(1);
});
const config = configPath();
const configured = savedConfig(config)?.token;
const signIn = await localSignIn(configured, local.admin, async (token) => {
  const accepted = await authenticate(local.cp, token);
  return accepted.ok ? accepted.caller.email : undefined;
});
// With no one to sign in as (users made before the first admin's token was kept), the config's token stays.
const token = signIn?.token ?? configured;
await writeConfig(config, { endpoint: local.endpoint, ...(token ? { token } : {}) });
console.log(`gpuctl local control plane listening on ${local.endpoint}`);
console.log(`web console: ${local.endpoint}/console/`);
if (signIn?.kept) console.log(`CLI signed in as ${signIn.email}, kept from its config`);
else if (signIn) console.log(`CLI signed in as ${signIn.email}, the first admin`);
else
  console.log(
    `the config's token is not accepted here and no first admin's token is kept in ${stateDir}/secrets.json: sign in with \`gpuctl login\``,
  );
console.log(`state in ${stateDir}; CLI config written to ${config}`);
console.log(`instance types offered: ${(await local.compute.instanceTypes()).join(", ")}`);
if (faults.length) console.log(`compute faults (GPUCTL_FAULTS): ${JSON.stringify(faults)}`);
console.log("try: npx gpuctl submit -f examples/train.yaml --wait");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("stopping: agents, workflows and DynamoDB Local");
  await local.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
