import { createHmac, timingSafeEqual } from "node:crypto";
import type { Job } from "../domain/job.ts";
import type { LaunchRequest } from "../ports.ts";
import type { Ports } from "./control-plane.ts";

/**
 * Agents hold two kinds of credential, both signed by the control plane so that nothing
 * needs storing, each signed for its purpose so that neither passes for the other:
 * - the instance token, `<instanceId>.<signature>`, opens that instance's mailbox (its poll)
 *   while the instance is not closed;
 * - an assignment credential, handed out with every command of a job, opens that job's
 *   reports, timeline, endpoint and results, while that attempt of the job runs on that
 *   instance (see `assignmentHolds`).
 */
const sign = (secret: string, purpose: "instance" | "assignment", payload: string) =>
  createHmac("sha256", secret).update(`${purpose}\0${payload}`).digest("base64url");

const signed = (secret: string, purpose: "instance" | "assignment", token: string) => {
  const dot = token.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(sign(secret, purpose, payload));
  return given.length === expected.length && timingSafeEqual(given, expected) ? payload : undefined;
};

export const agentAccess = (
  cp: Ports<never, "agent">,
  instanceId: string,
): LaunchRequest["agent"] => ({
  endpoint: cp.settings.agent.endpoint,
  token: `${instanceId}.${sign(cp.settings.agent.secret, "instance", instanceId)}`,
});

/** The instance an instance token was issued to, or undefined for any other string. */
export const instanceOfToken = (secret: string, token: string): string | undefined =>
  signed(secret, "instance", token);

/** What an assignment credential binds: one attempt of one job on one instance. */
export interface Assignment {
  instanceId: string;
  jobId: string;
  attempt: number;
  requeues: number;
  /** Inference: the only address the job's endpoint may be reported at. */
  serve?: { host: string; port: number };
}

export const assignmentCredential = (secret: string, assignment: Assignment): string => {
  const payload = Buffer.from(JSON.stringify(assignment)).toString("base64url");
  return `${payload}.${sign(secret, "assignment", payload)}`;
};

/** The assignment a credential was issued for, or undefined for any other string. */
export const assignmentOfCredential = (secret: string, token: string): Assignment | undefined => {
  const payload = signed(secret, "assignment", token);
  if (payload === undefined) return undefined;
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Assignment;
};

/** Whether the assignment is the job's current attempt on that instance. */
export const assignmentHolds = (assignment: Assignment, job: Job): boolean =>
  job.id === assignment.jobId &&
  job.instanceId === assignment.instanceId &&
  job.attempt === assignment.attempt &&
  job.requeues === assignment.requeues;
