import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream } from "node:stream/web";
import type { Artifacts } from "../../ports.ts";

type Content = globalThis.ReadableStream<Uint8Array> | null;

/** Where uploads land until they are whole (and, for inputs, checked): never a key agents can read. */
const PARTIAL = ".partial";

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

  async putInput(
    sha256: string,
    content: Content,
  ): Promise<{ ok: true; url: string } | { ok: false; sha256: string }> {
    const path = this.inside(["inputs", sha256]);
    if (!path) throw new Error(`${sha256} cannot name an input`);
    const received = await this.receive(content);
    if (received.sha256 !== sha256) {
      await rm(received.path, { force: true });
      return { ok: false, sha256: received.sha256 };
    }
    await this.place(received.path, path);
    return { ok: true, url: `${this.baseUrl}/agent/v1/artifacts/inputs/${sha256}` };
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
  async write(key: string[], content: Content): Promise<boolean> {
    const path = key[0] === "jobs" && key.length > 2 ? this.inside(key) : undefined;
    if (!path) return false;
    await this.place((await this.receive(content)).path, path);
    return true;
  }

  /**
   * Streams an upload to a partial file, hashing it on the way. A stream that fails (the
   * upload is too large, the client left) leaves no file behind.
   */
  private async receive(content: Content): Promise<{ path: string; sha256: string }> {
    const path = join(this.root, PARTIAL, randomUUID());
    await mkdir(dirname(path), { recursive: true });
    const hash = createHash("sha256");
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const source = content
      ? Readable.fromWeb(content as ReadableStream<Uint8Array>)
      : Readable.from([]);
    try {
      await pipeline(source, hashing, createWriteStream(path));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { path, sha256: hash.digest("hex") };
  }

  /** Moves a whole upload to its place in one step: readers never see half a file. */
  private async place(partial: string, path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await rename(partial, path);
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
