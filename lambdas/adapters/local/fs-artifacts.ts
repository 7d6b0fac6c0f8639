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
    const path = this.inside("inputs", sha256);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    return { url: `${this.baseUrl}/agent/v1/artifacts/inputs/${sha256}` };
  }

  uploadUrl(jobId: string): string {
    return `${this.baseUrl}/agent/v1/artifacts/jobs/${encodeURIComponent(jobId)}`;
  }

  async listOutputs(jobId: string): Promise<string[]> {
    const root = this.inside("jobs", jobId);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"))
      .sort();
  }

  readOutput(jobId: string, path: string): Promise<Uint8Array | undefined> {
    return this.read(["jobs", jobId, path]);
  }

  /** An artifact by its key under the root (what the agent URLs name), or undefined. */
  read(key: string[]): Promise<Uint8Array | undefined> {
    return readFile(this.inside(...key)).catch(() => undefined);
  }

  async write(key: string[], bytes: Uint8Array): Promise<void> {
    const path = this.inside(...key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }

  /** A path under the root; a key that climbs out of it (`..`) is refused. */
  private inside(...key: string[]): string {
    const root = resolve(this.root);
    const path = resolve(root, ...key);
    if (!path.startsWith(root + sep))
      throw new Error(`artifact key ${key.join("/")} leaves the artifact folder`);
    return path;
  }
}
