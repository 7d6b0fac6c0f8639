/**
 * The env cache on the instance's disk: `<home>/envs/<envHash>/` is where an env's setup
 * runs, and the marker file in it says the setup finished. Survives stop and start.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const MARKER = ".gpuctl-env-ready";

/** A name that is safe as one path segment: not empty, not `.` or `..`, no separator. */
export const safeSegment = (what: string, name: string): string => {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name))
    throw new Error(`${what} ${JSON.stringify(name)} cannot name a folder`);
  return name;
};

export class EnvCache {
  readonly #root: string;

  constructor(home: string) {
    this.#root = join(home, "envs");
  }

  /** The folder the setup of `envHash` runs in. */
  dir(envHash: string): string {
    return join(this.#root, safeSegment("envHash", envHash));
  }

  isCached(envHash: string): boolean {
    return existsSync(join(this.dir(envHash), MARKER));
  }

  /** Writes the marker afresh: whatever the setup left at its name is never written through. */
  async markReady(envHash: string): Promise<void> {
    await mkdir(this.dir(envHash), { recursive: true });
    const marker = join(this.dir(envHash), MARKER);
    await rm(marker, { force: true });
    await writeFile(marker, `${new Date().toISOString()}\n`, { flag: "wx" });
  }

  /** Every env hash whose setup finished on this disk. */
  async list(): Promise<string[]> {
    const names = await readdir(this.#root).catch(() => []);
    return names.filter((name) => existsSync(join(this.#root, name, MARKER))).sort();
  }
}
