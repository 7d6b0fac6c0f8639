/**
 * Process groups: every setup and run command starts detached in a group of its own, so the
 * command and everything it forks can be signalled at once. The agent records its groups in
 * `<home>/process-groups.json`, so that whoever finds the agent dead (its next start, or the
 * local compute adapter) can end the groups it left behind.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sleep } from "./client.ts";

/** SIGTERM first; SIGKILL for whatever is still there after this long. */
export const KILL_GRACE_MS = 5_000;
const REGISTRY = "process-groups.json";
const hasProc = process.platform === "linux" && existsSync("/proc/self/stat");

/** Pids of the live (not zombie) members of a group; undefined where there is no /proc. */
export const groupMembers = (pgid: number): number[] | undefined => {
  if (!hasProc) return undefined;
  const members: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X")
      members.push(Number(name));
  }
  return members;
};

export const groupAlive = (pgid: number): boolean => {
  const members = groupMembers(pgid);
  if (members) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Sends `signal` to the group; false when there is no such group. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): boolean => {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the group, then SIGKILL if any of it is still alive after `graceMs`. */
export const killGroup = async (pgid: number, graceMs = KILL_GRACE_MS): Promise<void> => {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(50);
    if (!groupAlive(pgid)) return;
  }
  signalGroup(pgid, "SIGKILL");
};

interface Recorded {
  pgid: number;
  jobId: string;
}

/** The groups this agent started and that may still be alive, mirrored to disk. */
export class GroupRegistry {
  readonly #file: string;
  readonly #groups = new Map<number, string>();

  constructor(home: string) {
    this.#file = join(home, REGISTRY);
  }

  add(pgid: number, jobId: string): void {
    this.#groups.set(pgid, jobId);
    this.#save();
  }

  remove(pgid: number): void {
    if (this.#groups.delete(pgid)) this.#save();
  }

  pgids(): number[] {
    return [...this.#groups.keys()];
  }

  #save(): void {
    const recorded: Recorded[] = [...this.#groups].map(([pgid, jobId]) => ({ pgid, jobId }));
    const temporary = `${this.#file}.tmp`;
    // The instance's jobs run as other users: they have no business knowing each other.
    writeFileSync(temporary, JSON.stringify(recorded), { mode: 0o600 });
    renameSync(temporary, this.#file);
  }
}

/** Whether a live member of `pgid` carries the environment this agent gave its job's commands. */
const startedBy = (home: string, recorded: Recorded): boolean => {
  const expected = [`GPUCTL_AGENT_HOME=${home}`, `GPUCTL_JOB_ID=${recorded.jobId}`];
  for (const pid of groupMembers(recorded.pgid) ?? []) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (expected.every((entry) => environ.includes(entry))) return true;
    } catch {}
  }
  return false;
};

/**
 * SIGKILLs the groups that a dead agent on `home` left behind, and forgets them. Only groups
 * a live member of which still carries that agent's home and the recorded job id are killed,
 * so a reused pgid is never hit (on systems without /proc nothing can be proven, nothing is
 * killed). Returns the pgids killed.
 */
export const killLeftoverGroups = (home: string): number[] => {
  const absoluteHome = resolve(home);
  const file = join(absoluteHome, REGISTRY);
  let recorded: Recorded[];
  try {
    recorded = JSON.parse(readFileSync(file, "utf8")) as Recorded[];
  } catch {
    return [];
  }
  const killed = recorded
    .filter((group) => Number.isInteger(group.pgid) && group.pgid > 1)
    .filter((group) => startedBy(absoluteHome, group))
    .filter((group) => signalGroup(group.pgid, "SIGKILL"))
    .map((group) => group.pgid);
  rmSync(file, { force: true });
  return killed;
};
