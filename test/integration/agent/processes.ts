/** What the tests check about processes, read straight from /proc (independent of the agent's code). */
import { readdirSync, readFileSync } from "node:fs";

const stateAndGroup = (pid: string): { state: string; pgrp: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
};

const running = (state: string) => state !== "Z" && state !== "X";

/** Pids of the live members of a process group (zombies, dead but unreaped, excluded). */
export const groupMembers = (pgid: number): number[] =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      const info = stateAndGroup(pid);
      return info !== undefined && info.pgrp === pgid && running(info.state);
    })
    .map(Number);

export const processAlive = (pid: number): boolean => {
  const info = stateAndGroup(String(pid));
  return info !== undefined && running(info.state);
};
