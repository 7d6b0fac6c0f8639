import { createHmac, timingSafeEqual } from "node:crypto";
import { type Job, rankOf } from "../domain/job.ts";
import type { InstanceStore, LaunchRequest } from "../ports.ts";
import type { Ports } from "./control-plane.ts";

/**
 * Every agent request proves two things. Which instance sends it: locally, the instance
 * token, `<instanceId>.<signature>`, signed by the control plane so that nothing needs
 * storing; on AWS, the request's SigV4 signature with the instance role, whose session
 * EC2 names after the EC2 instance (`instanceOfRoleSession`). And, for a request about a
 * job, the assignment credential handed out with every command of that job: it opens the
 * job's reports, timeline, endpoint and results while that attempt of the job runs on that
 * instance (see `assignmentHolds`). Both credentials are signed for their purpose, so that
 * neither passes for the other.
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

/**
 * An IAM caller's ARN when it holds an EC2 instance role's credentials: the role session's
 * name is the EC2 instance id (EC2 names it so; the instance cannot choose another).
 */
const INSTANCE_ROLE_SESSION = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([^/]+)\/(i-[0-9a-f]+)$/;

/**
 * The gpuctl instance an IAM caller is (on AWS): `claimed`, when the caller's ARN is a
 * session of the instance role `roleName` and that gpuctl instance was launched as the
 * session's EC2 instance; otherwise undefined.
 */
export const instanceOfRoleSession = async (
  instances: Pick<InstanceStore, "get">,
  roleName: string,
  userArn: string,
  claimed: string,
): Promise<string | undefined> => {
  const [, role, ec2InstanceId] = INSTANCE_ROLE_SESSION.exec(userArn) ?? [];
  if (role !== roleName || ec2InstanceId === undefined) return undefined;
  const instance = await instances.get(claimed);
  return instance?.providerId === ec2InstanceId ? instance.id : undefined;
};

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

/**
 * Whether the assignment is the job's current attempt on that instance: the leader's (what
 * speaks for the job: its results, timeline, endpoint), or with `ranks: "any"` any rank's
 * of a multi-node job (its step reports, its inputs).
 */
export const assignmentHolds = (
  assignment: Assignment,
  job: Job,
  ranks: "leader" | "any" = "leader",
): boolean =>
  job.id === assignment.jobId &&
  (ranks === "any"
    ? rankOf(job, assignment.instanceId) !== undefined
    : job.instanceId === assignment.instanceId) &&
  job.attempt === assignment.attempt &&
  job.requeues === assignment.requeues;
