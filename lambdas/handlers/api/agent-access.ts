import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { errorBody } from "./responses.ts";

/** What every agent route knows once the caller's token is checked. */
export type AgentEnv = { Variables: { instance: string } };

export const notYours = (what: string) =>
  Response.json(errorBody("FORBIDDEN", `${what} is not this instance's`), { status: 403 });

/** Whether the job runs on the calling agent's instance. */
export const runsOnCaller = async (cp: ControlPlane, jobId: string, instance: string) =>
  (await cp.jobs.get(jobId))?.job.instanceId === instance;
