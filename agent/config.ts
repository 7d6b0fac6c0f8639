import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { AGENT_TOKEN_FILE_ENV, HEARTBEAT_INTERVAL_S } from "./protocol.ts";

export interface AgentConfig {
  /** The control plane's base URL, without a trailing slash. */
  endpoint: string;
  /** The instance token: the bearer token of the poll. */
  token: string;
  instanceId: string;
  /** The instance's disk: `envs/<envHash>/` and `jobs/<jobId>/` live here. Absolute. */
  home: string;
  heartbeatMs: number;
  /** How long the control plane may hold a poll open. */
  pollWaitS: number;
}

export const POLL_WAIT_S = 20;

const required = (env: NodeJS.ProcessEnv, name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/**
 * Reads the instance token from its file and deletes the file, so that nothing on the
 * instance's disk holds it once the agent runs.
 */
const takeToken = (path: string): string => {
  const token = readFileSync(path, "utf8").trim();
  rmSync(path, { force: true });
  if (!token) throw new Error(`${AGENT_TOKEN_FILE_ENV} names an empty file`);
  return token;
};

/** Reads the agent's configuration from its environment; throws naming what is missing. */
export const readConfig = (env: NodeJS.ProcessEnv = process.env): AgentConfig => {
  const endpoint = required(env, "GPUCTL_ENDPOINT").replace(/\/+$/, "");
  try {
    new URL(endpoint);
  } catch {
    throw new Error(`GPUCTL_ENDPOINT is not a URL: ${endpoint}`);
  }
  const heartbeatS =
    env.GPUCTL_HEARTBEAT_S === undefined ? HEARTBEAT_INTERVAL_S : Number(env.GPUCTL_HEARTBEAT_S);
  if (!(heartbeatS > 0)) throw new Error(`GPUCTL_HEARTBEAT_S must be > 0 seconds`);
  return {
    endpoint,
    token: takeToken(required(env, AGENT_TOKEN_FILE_ENV)),
    instanceId: required(env, "GPUCTL_INSTANCE_ID"),
    home: resolve(required(env, "GPUCTL_AGENT_HOME")),
    heartbeatMs: Math.round(heartbeatS * 1000),
    pollWaitS: POLL_WAIT_S,
  };
};
