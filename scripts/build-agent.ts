/**
 * `npm run build:agent`: the instance agent (agent/agent.ts) bundled by esbuild into one
 * ES module, dist/agent/agent.mjs, with every dependency in it (the AWS SDK included: an
 * instance has Node.js and this file, nothing else). The local compute runs this file, so
 * the tests run what ships. `--if-stale` builds only when the bundle is older than one of
 * its inputs (see agentBundleStale).
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleStale, metafileOf, ROOT, writeAtomically } from "./bundle-freshness.ts";

export const AGENT_SOURCE = join(ROOT, "agent", "agent.ts");
export const AGENT_BUNDLE = join(ROOT, "dist", "agent", "agent.mjs");

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

/** Whether the agent's bundle is older than its sources (see bundleStale). */
export const agentBundleStale = (bundle: string = AGENT_BUNDLE): boolean => bundleStale(bundle);

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
