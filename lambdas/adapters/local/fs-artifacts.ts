import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Artifacts } from "../../ports.ts";

/**
 * S3 as a local folder: `inputs/<sha256>` and `jobs/<jobId>/<path>`. Agents reach both
 * through the control plane's own HTTP server, as they would reach presigned S3 URLs.
 */
export class FsArtifacts implements Artifacts {
  private readonly root: string;
  private readonly baseUrl: string;

  constructor(root: string, baseUrl: string) {
    this.root = root;
    this.baseUrl = baseUrl;
  }

  async putInput(sha256: string, bytes: Uint8Array): Promise<{ url: string }> {
    const path = this.inside(["inputs", sha256]) as string;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    return { url: `${this.baseUrl}/agent/v1/artifacts/inputs/${sha256}` };
  }

  uploadUrl(jobId: string): string {
    return `${this.baseUrl}/agent/v1/artifacts/jobs/${encodeURIComponent(jobId)}`;
  }

  async listOutputs(jobId: string): Promise<string[]> {
    const root = this.inside(["jobs", jobId]);
    if (!root) return [];
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"))
      .sort();
  }

  readOutput(jobId: string, path: string): Promise<Uint8Array | undefined> {
    return this.read(["jobs", jobId, ...path.split("/")]);
  }

  /** An artifact by its key under the root (what the agent URLs name), or undefined. */
  async read(key: string[]): Promise<Uint8Array | undefined> {
    const path = this.inside(key);
    return path ? readFile(path).catch(() => undefined) : undefined;
  }

  /** Stores a file under `jobs/<jobId>/...`, the only place agents upload to. */
  async write(key: string[], bytes: Uint8Array): Promise<boolean> {
    const path = key[0] === "jobs" && key.length > 2 ? this.inside(key) : undefined;
    if (!path) return false;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    return true;
  }

  /**
   * The file a key names, or undefined for a key that is not one: an empty segment, `.`,
   * `..` or a separator inside a segment could reach another job's files, or leave the folder.
   */
  private inside(key: string[]): string | undefined {
    const valid = key.every(
      (segment) => segment !== "" && segment !== "." && segment !== ".." && !/[/\\]/.test(segment),
    );
    if (!valid) return undefined;
    const root = resolve(this.root);
    const path = resolve(root, ...key);
    return path.startsWith(root + sep) ? path : undefined;
  }
}
