import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream } from "node:stream/web";
import {
  CHECKSUM_HEADER,
  checksumOf,
  INPUTS_PREFIX,
  inputKey,
  resultKey,
} from "../../domain/artifacts.ts";
import {
  type AnnouncedFile,
  type Artifacts,
  type ArtifactTransfer,
  InvalidCursorError,
  type Page,
  type ResultBytes,
} from "../../ports.ts";

type Content = globalThis.ReadableStream<Uint8Array> | null;

/** Where uploads land until they are whole and checked: never a key agents can read. */
const PARTIAL = ".partial";
const DEFAULT_PAGE_SIZE = 1000;

/** An upload refused: the field (a header) that does not match the bytes, and why. */
export type WriteResult = { ok: true } | { ok: false; field: string; message: string };

/**
 * S3 as a local folder: `inputs/<owner>/<sha256>` and `jobs/<jobId>/<path>`. Its transfers
 * name the local control plane's artifact routes, which check the caller, stream, and check
 * each upload against the SHA-256 and size it was announced with, as S3 checks a presigned
 * PUT. An input's URL names no owner: the route takes it from the caller (the user who
 * uploads, or the owner of the job whose agent downloads).
 */
export class FsArtifacts implements Artifacts {
  private readonly root: string;
  private readonly baseUrl: string;
  private readonly pageSize: number;

  constructor(root: string, baseUrl: string, options: { pageSize?: number } = {}) {
    this.root = root;
    this.baseUrl = baseUrl;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  async inputUpload(
    owner: string,
    input: AnnouncedFile,
  ): Promise<{ stored: true } | { stored: false; upload: ArtifactTransfer }> {
    if (await this.inputStored(owner, input.sha256)) return { stored: true };
    return {
      stored: false,
      upload: this.transfer(`/v1/artifacts/${INPUTS_PREFIX}${input.sha256}`, input),
    };
  }

  async inputStored(owner: string, sha256: string): Promise<boolean> {
    return (await this.stat(inputKey(owner, sha256).split("/"))) !== undefined;
  }

  async inputDownload(_owner: string, sha256: string): Promise<string> {
    return `${this.baseUrl}/agent/v1/artifacts/${INPUTS_PREFIX}${sha256}`;
  }

  async resultUpload(
    jobId: string,
    file: AnnouncedFile & { path: string },
  ): Promise<ArtifactTransfer> {
    return this.transfer(`/agent/v1/artifacts/${escapeKey(resultKey(jobId, file.path))}`, file);
  }

  async readResult(
    jobId: string,
    path: string,
    range: { offset: number; length: number },
  ): Promise<ResultBytes> {
    const file = this.inside(resultKey(jobId, path).split("/"));
    const handle = file ? await open(file, "r").catch(() => undefined) : undefined;
    if (!handle) return { bytes: new Uint8Array(), size: 0 };
    try {
      const { size } = await handle.stat();
      const bytes = Buffer.alloc(Math.max(0, Math.min(range.length, size - range.offset)));
      const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, range.offset);
      return { bytes: bytes.subarray(0, bytesRead), size };
    } finally {
      await handle.close();
    }
  }

  async listOutputs(jobId: string, page: { cursor?: string } = {}): Promise<Page<string>> {
    const after = page.cursor === undefined ? undefined : cursorPath(page.cursor);
    const root = this.inside(["jobs", jobId]);
    if (!root) return { items: [] };
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    const paths = entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"))
      .filter((path) => after === undefined || path > after)
      .sort();
    const items = paths.slice(0, this.pageSize);
    const last = items.at(-1);
    return paths.length > items.length && last !== undefined
      ? { items, cursor: Buffer.from(last).toString("base64url") }
      : { items };
  }

  /** The user routes check the owner; the agent routes, the assignment of the current attempt. */
  async outputDownload(
    jobId: string,
    path: string,
    reader: "owner" | "agent" = "owner",
  ): Promise<string> {
    const routes = reader === "agent" ? "/agent/v1" : "/v1";
    return `${this.baseUrl}${routes}/artifacts/${escapeKey(resultKey(jobId, path))}`;
  }

  /** An artifact by its key under the root (what the artifact routes name), or undefined. */
  async read(key: string[]): Promise<Uint8Array | undefined> {
    const path = this.inside(key);
    return path ? readFile(path).catch(() => undefined) : undefined;
  }

  /**
   * Stores an input or a job's result file as it streams in, only when it is `expected`'s
   * size and SHA-256 (and an input's key is that SHA-256): otherwise nothing is stored.
   */
  async write(key: string[], content: Content, expected: AnnouncedFile): Promise<WriteResult> {
    if (key[0] === "inputs" && key[2] !== expected.sha256)
      return {
        ok: false,
        field: CHECKSUM_HEADER,
        message: "must be the SHA-256 the input is named by",
      };
    const writable =
      (key[0] === "inputs" && key.length === 3) || (key[0] === "jobs" && key.length > 2);
    const path = writable ? this.inside(key) : undefined;
    if (!path)
      return {
        ok: false,
        field: "path",
        message: "must be inputs/<owner>/<sha256> or jobs/<jobId>/<file>",
      };
    const received = await this.receive(content);
    const problem =
      received.size !== expected.size
        ? { field: "content-length", message: `the body is ${received.size} bytes` }
        : received.sha256 !== expected.sha256
          ? { field: CHECKSUM_HEADER, message: `the body's sha256 is ${received.sha256}` }
          : undefined;
    if (problem) {
      await rm(received.path, { force: true });
      return { ok: false, ...problem };
    }
    await this.place(received.path, path);
    return { ok: true };
  }

  private transfer(path: string, file: AnnouncedFile): ArtifactTransfer {
    return {
      url: `${this.baseUrl}${path}`,
      headers: { [CHECKSUM_HEADER]: checksumOf(file.sha256) },
    };
  }

  private stat(key: string[]) {
    const path = this.inside(key);
    return path ? stat(path).catch(() => undefined) : Promise.resolve(undefined);
  }

  /**
   * Streams an upload to a partial file, hashing it on the way. A stream that fails (the
   * upload is too large, the client left) leaves no file behind.
   */
  private async receive(content: Content): Promise<{ path: string; sha256: string; size: number }> {
    const path = join(this.root, PARTIAL, randomUUID());
    await mkdir(dirname(path), { recursive: true });
    const hash = createHash("sha256");
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.byteLength;
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
    return { path, sha256: hash.digest("hex"), size };
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

/** A key as a URL path: each segment escaped. */
const escapeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

/** The last path of the previous page, from the cursor that carries it. */
const cursorPath = (cursor: string): string => {
  const path = Buffer.from(cursor, "base64url").toString("utf8");
  if (!path || Buffer.from(path).toString("base64url") !== cursor)
    throw new InvalidCursorError("not a cursor of this listing");
  return path;
};
