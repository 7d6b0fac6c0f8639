/** Where the control plane is: `GPUCTL_ENDPOINT`, else the config file `npm start` writes. */

import { readFileSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";

export interface GpuctlConfig {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080` or an API Gateway stage URL. */
  endpoint: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
}

/** A missing, unreadable or malformed configuration; the message says how to fix it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const endpoint = z
  .string()
  .refine((value) => /^https?:$/.test(URL.parse(value)?.protocol ?? ""), "must be an http(s) URL");

// Loose: fields this version does not know (written by a newer one) survive a token change.
const ConfigFile = z.looseObject({ endpoint, token: z.string().min(1).optional() });

type Env = Record<string, string | undefined>;

const DEFAULT_PATH_LABEL = "~/.gpuctl/config.json";

/** The config file: `GPUCTL_CONFIG` when set, else `~/.gpuctl/config.json`. */
export const configPath = (env: Env = process.env): string =>
  env.GPUCTL_CONFIG || join(homedir(), ".gpuctl", "config.json");

const describeIssues = (error: z.ZodError): string =>
  error.issues.map((issue) => `${issue.path.join(".") || "(config)"}: ${issue.message}`).join("; ");

/**
 * The control plane to talk to. `GPUCTL_ENDPOINT` (with `GPUCTL_TOKEN`, if any) overrides the
 * config file; the file's token is never sent to an endpoint the file did not name.
 * `GPUCTL_TOKEN` alone replaces the file's token for the file's endpoint.
 */
export const loadConfig = (env: Env = process.env): GpuctlConfig => {
  if (env.GPUCTL_ENDPOINT) {
    const parsed = endpoint.safeParse(env.GPUCTL_ENDPOINT);
    if (!parsed.success) {
      throw new ConfigError(
        `GPUCTL_ENDPOINT ${JSON.stringify(env.GPUCTL_ENDPOINT)}: must be an http(s) URL`,
      );
    }
    return env.GPUCTL_TOKEN
      ? { endpoint: parsed.data, token: env.GPUCTL_TOKEN }
      : { endpoint: parsed.data };
  }
  const path = configPath(env);
  const label = env.GPUCTL_CONFIG ? path : DEFAULT_PATH_LABEL;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ConfigError(
        `no control plane configured: run \`npm start\` (it writes ${label}) or set GPUCTL_ENDPOINT`,
      );
    }
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success) throw new ConfigError(`${path}: ${describeIssues(parsed.error)}`);
  const { endpoint: url } = parsed.data;
  const token = env.GPUCTL_TOKEN || parsed.data.token;
  return token ? { endpoint: url, token } : { endpoint: url };
};

/** The config file's own endpoint and token, without `GPUCTL_*` overrides; undefined when it does not read. */
export const savedConfig = (path: string): GpuctlConfig | undefined => {
  try {
    return loadConfig({ GPUCTL_CONFIG: path });
  } catch {
    return undefined;
  }
};

/** Whom `npm start` signs the CLI in as: `kept` when it is the config's own token. */
export interface LocalSignIn {
  token: string;
  email: string;
  kept: boolean;
}

/**
 * The config's own user while this control plane accepts their token (`whoIs` answers their
 * email), so someone signed in with `gpuctl login` stays so across restarts; else the first
 * admin; else no one.
 */
export const localSignIn = async (
  configured: string | undefined,
  admin: { email: string; token: string } | undefined,
  whoIs: (token: string) => Promise<string | undefined>,
): Promise<LocalSignIn | undefined> => {
  const email = configured === undefined ? undefined : await whoIs(configured);
  if (configured !== undefined && email !== undefined)
    return { token: configured, email, kept: true };
  return admin && { ...admin, kept: false };
};

/**
 * Writes the endpoint and token into the config file (creating its folder), readable by its
 * owner only as it may hold a token; the file's other fields stay, and its token goes when
 * `config` has none.
 */
export const writeConfig = async (path: string, config: GpuctlConfig): Promise<void> => {
  // A file that does not parse holds nothing worth keeping: it is written anew.
  const current = await readConfigFile(path).catch(() => undefined);
  const { token, ...kept } = current ?? {};
  await writeConfigFile(path, { ...kept, ...config });
};

const writeConfigFile = async (path: string, config: Record<string, unknown>): Promise<void> => {
  const parsed = ConfigFile.safeParse(config);
  if (!parsed.success) throw new ConfigError(`config for ${path}: ${describeIssues(parsed.error)}`);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(parsed.data, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
};

/** The config file's own fields as written, or undefined when there is none. */
const readConfigFile = async (path: string): Promise<Record<string, unknown> | undefined> => {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (json !== null && typeof json === "object" && !Array.isArray(json))
      return json as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ConfigError(`${path}: not a JSON object`);
};

/**
 * Signs the CLI in: `token` for `endpoint` in the config file, whose other fields stay. The
 * endpoint is written too, as a token is only ever sent to the endpoint beside it.
 */
export const saveToken = (path: string, endpoint: string, token: string): Promise<void> =>
  writeConfig(path, { endpoint, token });

/** Signs the CLI out: the config file without its token; whether it had one. */
export const clearToken = async (path: string): Promise<boolean> => {
  const current = await readConfigFile(path);
  if (current?.token === undefined) return false;
  const { token, ...rest } = current;
  await writeConfigFile(path, rest);
  return true;
};
