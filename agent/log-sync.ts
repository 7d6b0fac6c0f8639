/**
 * A job's logs among its results while its commands run, so its owner reads them live
 * (`gpuctl logs -f`): a log that changed is uploaded again every few seconds, and once more
 * when the command ends, whatever its outcome.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { describeError, log } from "./log.ts";

/** A file to upload: where it is, and its path among the job's results. */
export interface Upload {
  file: string;
  key: string;
}

/**
 * What a live log costs at most: each upload sends the whole file again, so a log is sent
 * again no sooner than one interval per this many bytes of it (a 10 MiB log every 10
 * intervals). The upload when the command ends waits for nothing.
 */
const LIVE_BYTES_PER_INTERVAL = 1024 * 1024;

interface LogSyncOptions {
  intervalMs: number;
  /** The log files as they are now. */
  list: () => Promise<Upload[]>;
  send: (uploads: Upload[], signal: AbortSignal) => Promise<void>;
  /** Names the job in the agent's log. */
  label: string;
}

interface Sent {
  size: number;
  mtimeMs: number;
  /** When the file may go again while the command runs (epoch ms). */
  notBefore: number;
}

export class LogSync {
  readonly #options: LogSyncOptions;
  readonly #sent = new Map<string, Sent>();
  /** Aborted when the command ends: a live upload then gives way to the last one. */
  readonly #live = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #failing = false;

  constructor(options: LogSyncOptions) {
    this.#options = options;
  }

  /** Starts uploading the logs as they change, one sync at a time. */
  start(): this {
    this.#timer = setInterval(() => {
      this.#syncing ??= this.#sync(true, this.#live.signal).finally(() => {
        this.#syncing = undefined;
      });
    }, this.#options.intervalMs);
    return this;
  }

  /** Stops the live uploads, then uploads every log that changed since it was last sent. */
  async finish(signal: AbortSignal): Promise<void> {
    clearInterval(this.#timer);
    this.#live.abort();
    await this.#syncing;
    await this.#sync(false, signal);
  }

  async #sync(live: boolean, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    try {
      const changed: Array<Upload & { state: Sent }> = [];
      for (const upload of await this.#options.list()) {
        const { size, mtimeMs } = await stat(upload.file);
        const sent = this.#sent.get(upload.key);
        if (sent && sent.size === size && sent.mtimeMs === mtimeMs) continue;
        if (live && sent && now < sent.notBefore) continue;
        const wait = this.#options.intervalMs * Math.max(1, size / LIVE_BYTES_PER_INTERVAL);
        changed.push({ ...upload, state: { size, mtimeMs, notBefore: now + wait } });
      }
      if (changed.length === 0) return;
      await this.#options.send(changed, signal);
      for (const { key, state } of changed) this.#sent.set(key, state);
      this.#failing = false;
      if (!live) log(`${this.#options.label} uploaded ${changed.length} log files`);
    } catch (error) {
      if (live && signal.aborted) return;
      // A live upload that keeps failing is said once, not every few seconds.
      if (!live || !this.#failing)
        log(`${this.#options.label} upload failed: ${describeError(error)}`);
      this.#failing = live;
    }
  }
}

/**
 * Sends a copy of each log as it is now (a log a command still writes would not match the
 * size and SHA-256 its upload announced), made in a fresh folder under `scratch`; a log over
 * `maxBytes` as its last part only, headed by a line saying what was left out: a log no
 * upload takes must not cost the job its results.
 */
export const sendSnapshots = async (
  uploads: Upload[],
  options: { maxBytes: number; scratch: string },
  send: (uploads: Upload[]) => Promise<void>,
): Promise<void> => {
  await mkdir(options.scratch, { recursive: true, mode: 0o700 });
  const copies = await mkdtemp(join(options.scratch, "logs-"));
  try {
    const snapshots: Upload[] = [];
    for (const [index, { file, key }] of uploads.entries()) {
      const copy = join(copies, String(index));
      await snapshot(file, copy, options.maxBytes);
      snapshots.push({ file: copy, key });
    }
    await send(snapshots);
  } finally {
    await rm(copies, { recursive: true, force: true });
  }
};

/** `file`'s bytes now, or its last ones, from a whole character on, after a line that says what was left out. */
const snapshot = async (file: string, copy: string, maxBytes: number): Promise<void> => {
  const { size } = await stat(file);
  let start = 0;
  let head = Buffer.alloc(0);
  if (size > maxBytes) {
    const note = (left: number) =>
      Buffer.from(
        `[gpuctl: the log outgrew ${maxBytes} bytes: its first ${left} bytes are left out]\n`,
      );
    // The note's length depends on the number it states: measured with the largest it can be.
    start = size - Math.max(0, maxBytes - note(size).byteLength);
    start += await continuationBytesAt(file, start);
    head = note(start);
  }
  await writeFile(copy, head);
  if (start < size)
    await pipeline(
      createReadStream(file, { start, end: size - 1 }),
      createWriteStream(copy, { flags: "a" }),
    );
};

/** How many bytes at `offset` continue a character begun before it. */
const continuationBytesAt = async (file: string, offset: number): Promise<number> => {
  const handle = await open(file, "r");
  try {
    const bytes = Buffer.alloc(3);
    const { bytesRead } = await handle.read(bytes, 0, 3, offset);
    let skip = 0;
    while (skip < bytesRead && ((bytes[skip] as number) & 0xc0) === 0x80) skip++;
    return skip;
  } finally {
    await handle.close();
  }
};
