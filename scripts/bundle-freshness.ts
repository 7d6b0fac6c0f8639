/**
 * What the build scripts share: a bundle written whole or not at all, and whether it is
 * older than what it was built from.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The lock file stands for node_modules, whose files npm writes with a fixed old mtime. */
const LOCK_FILE = join(ROOT, "package-lock.json");

/** esbuild's list of what went into the bundle, kept next to it for bundleStale. */
export const metafileOf = (bundle: string) => `${bundle}.meta.json`;

/**
 * Writes through a temporary file of its own: a reader meanwhile reads a whole file or the
 * old one, and two builds at once (two vitest projects) do not mix.
 */
export const writeAtomically = (path: string, contents: string | Uint8Array) => {
  const temporary = `${path}.${randomUUID()}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
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
 * its metafile lists them, `alsoFrom`, and package-lock.json) changed or disappeared since.
 * A new file only matters once an existing one imports it, and that one's change shows.
 */
export const bundleStale = (bundle: string, alsoFrom: string[] = []): boolean => {
  const built = mtimeOf(bundle);
  if (built === undefined) return true;
  let metafile: Metafile;
  try {
    metafile = JSON.parse(readFileSync(metafileOf(bundle), "utf8")) as Metafile;
  } catch {
    return true;
  }
  const inputs = [
    ...Object.keys(metafile.inputs).map((input) => resolve(ROOT, input)),
    ...alsoFrom,
    LOCK_FILE,
  ];
  return inputs.some((input) => (mtimeOf(input) ?? Number.POSITIVE_INFINITY) > built);
};
