import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { LIMITS } from "../lambdas/domain/limits.ts";
import { AGENT_TOKEN_FILE_ENV, HEARTBEAT_INTERVAL_S } from "./protocol.ts";

/**
 * Where commands arrive and how the agent proves its instance: locally, the control plane's
 * poll route and the instance token; on AWS, the instance's SQS queue and SigV4 signatures
 * with the instance role (GPUCTL_RUNTIME=aws).
 */
export type AgentRuntime =
  | { kind: "local"; token: string }
  | { kind: "aws"; region: string; queueUrl: string };

export interface AgentConfig {
  /** The control plane's base URL, without a trailing slash. */
  endpoint: string;
  runtime: AgentRuntime;
  instanceId: string;
  /** The instance's disk: `envs/<envHash>/` and `jobs/<jobId>/` live here. Absolute. */
  home: string;
  heartbeatMs: number;
  /** How long the control plane may hold a poll open. */
  pollWaitS: number;
  /** How often a running command's logs are uploaded again when they changed. */
  logSyncMs: number;
  /** The most of one log uploaded: a bigger log goes as its last part. */
  logMaxBytes: number;
}

export const POLL_WAIT_S = 20;
/** Every few seconds: a log read live lags this much at most, and costs one upload a change. */
export const LOG_SYNC_S = 5;

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

/** On AWS: the instance's queue (GPUCTL_COMMAND_QUEUE_URL) and the region (AWS_REGION). */
const runtimeOf = (env: NodeJS.ProcessEnv): AgentRuntime => {
  const kind = env.GPUCTL_RUNTIME ?? "local";
  if (kind === "local") return { kind, token: takeToken(required(env, AGENT_TOKEN_FILE_ENV)) };
  if (kind !== "aws") throw new Error(`GPUCTL_RUNTIME must be "local" or "aws", not "${kind}"`);
  const queueUrl = required(env, "GPUCTL_COMMAND_QUEUE_URL");
  if (!URL.canParse(queueUrl))
    throw new Error(`GPUCTL_COMMAND_QUEUE_URL is not a URL: ${queueUrl}`);
  return { kind, region: required(env, "AWS_REGION"), queueUrl };
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
  const logSyncS = env.GPUCTL_LOG_SYNC_S === undefined ? LOG_SYNC_S : Number(env.GPUCTL_LOG_SYNC_S);
  if (!(logSyncS > 0)) throw new Error(`GPUCTL_LOG_SYNC_S must be > 0 seconds`);
  // What one upload takes; tests set less, to see a log over it.
  const logMaxBytes =
    env.GPUCTL_LOG_MAX_BYTES === undefined
      ? LIMITS.resultFileBytes
      : Number(env.GPUCTL_LOG_MAX_BYTES);
  if (!(Number.isInteger(logMaxBytes) && logMaxBytes > 0 && logMaxBytes <= LIMITS.resultFileBytes))
    throw new Error(
      `GPUCTL_LOG_MAX_BYTES must be a whole number of bytes, 1 to ${LIMITS.resultFileBytes}`,
    );
  return {
    endpoint,
    runtime: runtimeOf(env),
    instanceId: required(env, "GPUCTL_INSTANCE_ID"),
    home: resolve(required(env, "GPUCTL_AGENT_HOME")),
    heartbeatMs: Math.round(heartbeatS * 1000),
    pollWaitS: POLL_WAIT_S,
    logSyncMs: Math.round(logSyncS * 1000),
    logMaxBytes,
  };
};
