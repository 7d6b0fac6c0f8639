/** Moving files between the job folder and URLs: inputs in with GET, results out with PUT. */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream } from "node:stream/web";
import { Backoff, retryable, sleep } from "./client.ts";
import { describeError, redactUrl } from "./log.ts";

/** A transfer that failed; the message names the URL and the HTTP status or network error. */
export class TransferError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "TransferError";
    this.status = status;
  }
}

const ATTEMPTS = 3;
const REQUEST_TIMEOUT_MS = 60_000;

/** `relativePath` resolved inside `jobDir`; refuses absolute paths and paths leaving it. */
export const insideJob = (jobDir: string, relativePath: string): string => {
  if (isAbsolute(relativePath))
    throw new Error(`${relativePath} must be relative to the job folder`);
  const full = resolve(jobDir, relativePath);
  if (!within(jobDir, full)) throw new Error(`${relativePath} leaves the job folder`);
  return full;
};

const within = (root: string, path: string) => path === root || path.startsWith(root + sep);

/**
 * `path` in the job folder once links are followed: refuses a path a link takes out of it
 * (a job's link must not make the agent read or write anything else). For a path that does
 * not exist yet, its nearest existing ancestor is checked.
 */
export const realInsideJob = async (jobDir: string, path: string): Promise<void> => {
  const root = await realpath(jobDir);
  for (let current = path; ; current = dirname(current)) {
    const real = await realpath(current).catch(() => undefined);
    if (real !== undefined) {
      if (!within(root, real)) throw new Error(`${relative(jobDir, path)} leaves the job folder`);
      return;
    }
    if (dirname(current) === current) return;
  }
};

/** Retries `once` on network errors and retryable statuses; TransferError otherwise. */
const withRetries = async (
  what: string,
  signal: AbortSignal,
  once: () => Promise<void>,
): Promise<void> => {
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      return await once();
    } catch (error) {
      const status = error instanceof TransferError ? error.status : undefined;
      const last =
        attempt >= ATTEMPTS || signal.aborted || (status !== undefined && !retryable(status));
      if (last) {
        if (error instanceof TransferError) throw error;
        throw new TransferError(`${what}: ${describeError(error)}`);
      }
      await sleep(backoff.next(), signal);
    }
  }
};

/**
 * GETs `url` into `destination` in the job folder `jobDir` (through a `.part` file, so a
 * half download never counts), never through a link that leaves the folder.
 */
export const download = (
  url: string,
  jobDir: string,
  destination: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<void> => {
  const what = `GET ${redactUrl(url)}`;
  return withRetries(what, signal, async () => {
    const response = await fetch(url, {
      headers,
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new TransferError(
        `${what}: HTTP ${response.status} ${response.statusText}`.trim(),
        response.status,
      );
    }
    await realInsideJob(jobDir, dirname(destination));
    await mkdir(dirname(destination), { recursive: true });
    const part = `${destination}.part`;
    try {
      // A link left at the .part name is removed, and never written through.
      await rm(part, { force: true });
      await pipeline(
        Readable.fromWeb(response.body as ReadableStream<Uint8Array>),
        createWriteStream(part, { flags: "wx" }),
        { signal },
      );
      await rename(part, destination);
    } catch (error) {
      await rm(part, { force: true });
      throw error;
    }
  });
};

/** A file's size and SHA-256, read once: what an upload announces, and S3 then checks. */
export const digestOf = async (file: string): Promise<{ size: number; sha256: string }> => {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { size, sha256: hash.digest("hex") };
};

/**
 * Checks a fetched input against the SHA-256 it was uploaded with, if it was, and removes
 * it when it is not that content: a job never reads model or data other than it was given.
 */
export const verifyContent = async (
  input: { url: string; sha256?: string | undefined },
  file: string,
): Promise<void> => {
  if (input.sha256 === undefined) return;
  const actual = (await digestOf(file)).sha256;
  if (actual === input.sha256) return;
  await rm(file, { force: true });
  throw new TransferError(`GET ${redactUrl(input.url)}: the content's sha256 is ${actual}`);
};

/**
 * PUTs one file with its Content-Length (S3 refuses chunked uploads without one, and a
 * presigned URL signs it) and the headers its URL came with.
 */
const putOnce = async (
  file: string,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  what: string,
): Promise<void> => {
  const { size } = await stat(file);
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  await new Promise<void>((resolvePut, reject) => {
    const put = request(
      target,
      {
        method: "PUT",
        headers: {
          ...headers,
          "content-type": "application/octet-stream",
          "content-length": String(size),
        },
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      },
      (response) => {
        response.resume();
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolvePut();
          else
            reject(
              new TransferError(
                `${what}: HTTP ${status} ${response.statusMessage ?? ""}`.trim(),
                status,
              ),
            );
        });
        response.on("error", reject);
      },
    );
    put.on("error", reject);
    pipeline(createReadStream(file), put).catch(reject);
  });
};

export const upload = (
  file: string,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<void> => {
  const what = `PUT ${redactUrl(url)}`;
  return withRetries(what, signal, () => putOnce(file, url, headers, signal, what));
};

/**
 * The files under `relativePath` in the job folder (the path itself when it is a file), as
 * paths relative to the job folder with `/` separators; undefined when nothing is there.
 * Symbolic links to files inside the job folder are followed; links to folders are not (no
 * cycles), nor links that leave the folder.
 */
export const listFiles = async (
  jobDir: string,
  relativePath: string,
): Promise<string[] | undefined> => {
  const root = insideJob(jobDir, relativePath);
  const inside = (path: string) =>
    realInsideJob(jobDir, path).then(
      () => true,
      () => false,
    );
  if (!(await inside(root))) return undefined;
  const info = await stat(root).catch(() => undefined);
  if (!info) return undefined;
  const toRelative = (full: string) => relative(jobDir, full).split(sep).join("/");
  if (info.isFile()) return [toRelative(root)];
  if (!info.isDirectory()) return [];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push(toRelative(full));
      else if (
        entry.isSymbolicLink() &&
        (await stat(full).catch(() => undefined))?.isFile() &&
        (await inside(full))
      )
        files.push(toRelative(full));
    }
  };
  await walk(root);
  return files;
};

/** Runs `work` over `items`, at most `limit` at a time; the first failure rejects. */
export const eachLimited = async <T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> => {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
};
