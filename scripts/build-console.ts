/**
 * `npm run build:console`: the web console's assets in dist/console/: its page
 * (console/index.html), its one script module (console/src/main.ts and what it imports,
 * bundled and minified by esbuild for browsers) and its stylesheet. The local control plane
 * serves that folder; on AWS the API function's bundling runs this script into its own
 * output (`--outdir`), so the Lambda serves the same files. `--if-stale` builds only when
 * the assets are older than one of their sources.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CONSOLE_PAGE, CONSOLE_SCRIPT } from "../lambdas/handlers/api/console-routes.ts";
import { bundleStale, metafileOf, ROOT, writeAtomically } from "./bundle-freshness.ts";

export const CONSOLE_DIR = join(ROOT, "dist", "console");
const SOURCES = join(ROOT, "console");
const PAGE = join(SOURCES, CONSOLE_PAGE);

/** Writes the console's files into `outdir`. Returns their total size. */
export const buildConsole = async (outdir: string = CONSOLE_DIR): Promise<number> => {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [
      { in: join(SOURCES, "src", "main.ts"), out: "console" },
      { in: join(SOURCES, "console.css"), out: "console" },
    ],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    outdir,
  });
  mkdirSync(outdir, { recursive: true });
  for (const file of result.outputFiles) writeAtomically(file.path, file.contents);
  copyFileSync(PAGE, join(outdir, CONSOLE_PAGE));
  writeAtomically(metafileOf(join(outdir, CONSOLE_SCRIPT)), JSON.stringify(result.metafile));
  return result.outputFiles.reduce((sum, file) => sum + file.contents.length, 0);
};

/** Whether the console's assets in `outdir` are older than their sources (see bundleStale). */
export const consoleStale = (outdir: string = CONSOLE_DIR): boolean =>
  bundleStale(join(outdir, CONSOLE_SCRIPT), [PAGE]);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--outdir");
  const outdir = at > 0 ? resolve(process.argv[at + 1] ?? "") : CONSOLE_DIR;
  if (process.argv.includes("--if-stale") && !consoleStale(outdir)) {
    console.log(`console assets in ${outdir} are up to date`);
  } else {
    const size = await buildConsole(outdir);
    console.log(`console built: ${outdir} (${Math.round(size / 1024)} KiB)`);
  }
}
