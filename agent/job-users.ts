/**
 * Job users. An agent that runs as root runs each job's commands as a user of that job's
 * own: a uid with no name and no groups, derived from the instance's disk and the job id
 * (so every attempt of a job on an instance gets the same one). A job's processes cannot
 * read the agent's memory, environment or files, nor another job's folder or processes;
 * on EC2 one firewall rule over the whole range (JOB_UIDS) keeps them from the instance
 * metadata service and its role credentials.
 *
 * While the agent itself works in a job's folder (fetching inputs, uploading results), no
 * process of the job's user is alive (killUser runs after each of its commands), so what
 * the agent checks there (links, ownership) cannot change under it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { lchown, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

export interface JobUser {
  uid: number;
  gid: number;
}

const FIRST_UID = 1_500_000_000;
const UID_COUNT = 1 << 24;

/** The uids job users are taken from, as `first-last`. */
export const JOB_UIDS = `${FIRST_UID}-${FIRST_UID + UID_COUNT - 1}`;

/** Whether this agent can run jobs as other users. */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** The user the commands of `jobId` run as on the instance whose disk is `home`. */
export const jobUser = (home: string, jobId: string): JobUser => {
  const digest = createHash("sha256").update(`${home}\0${jobId}`).digest();
  const uid = FIRST_UID + (digest.readUInt32BE(0) % UID_COUNT);
  return { uid, gid: uid };
};

/**
 * SIGKILLs every process of `user`, whatever process group or session it moved to:
 * `kill -KILL -1` run as that user reaches all of that user's processes and nothing else.
 */
export const killUser = async (user: JobUser): Promise<void> => {
  const kill = spawn("/bin/kill", ["-KILL", "-1"], { ...user, stdio: "ignore" });
  await once(kill, "close").catch(() => undefined);
};

/** Gives `path` and everything under it to `user`, never following a link. */
export const handOver = async (path: string, user: JobUser): Promise<void> => {
  const info = await lstat(path);
  await lchown(path, user.uid, user.gid);
  if (!info.isDirectory()) return;
  for (const name of await readdir(path)) await handOver(join(path, name), user);
};
