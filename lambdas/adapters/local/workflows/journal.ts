import { appendFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import type { ExecutionStatus } from "./outcomes.ts";

type JournalStatus = ExecutionStatus | "RUNNING";
interface JournalEntry {
  executionId: string;
  status: JournalStatus;
  at: string;
}

/** Every job's and instance's id is in it: for the control plane's user only, never a job's. */
const PRIVATE = 0o600;

/** How long Step Functions keeps a closed execution, and so its name. */
const KEPT_MS = 90 * 24 * 3600 * 1000;

/**
 * The file where the runner notes each execution's start and end, so that the names earlier
 * runs used stay taken, as on Step Functions for 90 days after their execution closed.
 */
export class NameJournal {
  readonly #path: string | undefined;
  /** The last status of each execution an earlier run started. */
  readonly earlier: ReadonlyMap<string, JournalStatus>;
  /** Executions an earlier run started and never saw end: they died with it. */
  readonly lost: string[];

  /**
   * Reads the file, then rewrites it with one line per name still taken, its lost executions
   * recorded as aborted, so that it does not grow for ever and names a loss only once.
   */
  constructor(path: string | undefined, nowMs = Date.now()) {
    this.#path = path;
    const last = new Map(
      (path ? readEntries(path) : []).map((entry) => [entry.executionId, entry]),
    );
    this.lost = [...last.values()].flatMap((entry) =>
      entry.status === "RUNNING" ? [entry.executionId] : [],
    );
    const kept = [...last.values()].flatMap((entry): JournalEntry[] => {
      if (entry.status === "RUNNING") return [{ ...entry, status: "ABORTED", at: iso(nowMs) }];
      return Date.parse(entry.at) > nowMs - KEPT_MS ? [entry] : [];
    });
    this.earlier = new Map(kept.map((entry) => [entry.executionId, entry.status]));
    if (path) {
      writeFileSync(path, kept.map(line).join(""), { mode: PRIVATE });
      // A file an earlier version left readable becomes private too.
      chmodSync(path, PRIVATE);
    }
  }

  record(executionId: string, status: JournalStatus): void {
    if (this.#path) appendFileSync(this.#path, line({ executionId, status, at: iso(Date.now()) }));
  }
}

function readEntries(path: string): JournalEntry[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return text
    .split("\n")
    .filter((text) => text.trim() !== "")
    .map((text) => JSON.parse(text) as JournalEntry);
}

const line = (entry: JournalEntry) => `${JSON.stringify(entry)}\n`;
const iso = (ms: number) => new Date(ms).toISOString();
