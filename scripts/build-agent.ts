/**
 * `npm run build:agent`: the instance agent (agent/agent.ts) bundled by esbuild into one
 * ES module, dist/agent/agent.mjs, with every dependency in it (the AWS SDK included: an
 * instance has Node.js and this file, nothing else). The local compute runs this file, so
 * the tests run what ships. `--if-stale` builds only when the bundle is older than one of
 * its inputs (see agentBundleStale).
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const AGENT_SOURCE = join(ROOT, "agent", "agent.ts");
export const AGENT_BUNDLE = join(ROOT, "dist", "agent", "agent.mjs");
/** The lock file stands for node_modules, whose files npm writes with a fixed old mtime. */
const LOCK_FILE = join(ROOT, "package-lock.json");

/** esbuild's list of what went into the bundle, kept next to it for agentBundleStale. */
const metafileOf = (bundle: string) => `${bundle}.meta.json`;

/**
 * Writes through a temporary file of its own: an agent starting meanwhile reads a whole
 * bundle or the old one, and two builds at once (two vitest projects) do not mix.
 */
const writeAtomically = (path: string, contents: string | Uint8Array) => {
  const temporary = `${path}.${randomUUID()}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
};

/** Bundles the agent to `outfile`; the same sources give the same bytes. Returns its size. */
export const buildAgent = async (outfile: string = AGENT_BUNDLE): Promise<number> => {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [AGENT_SOURCE],
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    // The AWS SDK's ES module builds: its CommonJS ones would need `require` in the bundle.
    mainFields: ["module", "main"],
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    outfile,
  });
  const [bundle] = result.outputFiles;
  if (!bundle) throw new Error("esbuild produced no agent bundle");
  mkdirSync(dirname(outfile), { recursive: true });
  writeAtomically(metafileOf(outfile), JSON.stringify(result.metafile));
  writeAtomically(outfile, bundle.contents);
  return bundle.contents.length;
};

const mtimeOf = (path: string): number | undefined => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/**
 * Whether the bundle must be built again: it is missing, or a file it was built from (as
 * its metafile lists them, and package-lock.json) changed or disappeared since. A new file
 * only matters once an existing one imports it, and that one's change shows.
 */
export const agentBundleStale = (bundle: string = AGENT_BUNDLE): boolean => {
  const built = mtimeOf(bundle);
  if (built === undefined) return true;
  let metafile: Metafile;
  try {
    metafile = JSON.parse(readFileSync(metafileOf(bundle), "utf8")) as Metafile;
  } catch {
    return true;
  }
  const inputs = [...Object.keys(metafile.inputs).map((input) => resolve(ROOT, input)), LOCK_FILE];
  return inputs.some((input) => (mtimeOf(input) ?? Number.POSITIVE_INFINITY) > built);
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes("--if-stale");
  const relative = AGENT_BUNDLE.slice(ROOT.length);
  if (ifStale && !agentBundleStale()) {
    console.log(`agent bundle ${relative} is up to date`);
  } else {
    const started = Date.now();
    const size = await buildAgent();
    console.log(
      `agent bundled: ${relative} (${Math.round(size / 1024)} KiB, ${Date.now() - started} ms)`,
    );
  }
}
