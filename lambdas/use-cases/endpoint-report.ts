import type { JobRecord } from "../ports.ts";
import type { Assignment } from "./agent-identity.ts";

export type EndpointProblem =
  /** The caller may not set this job's endpoint at all. */
  | { kind: "forbidden"; message: string }
  /** Not a URL the assignment serves at. */
  | { kind: "invalid"; message: string };

const hostOf = (hostname: string) => hostname.replace(/^\[(.*)\]$/, "$1");

/**
 * Why an endpoint report is refused, or undefined when it is accepted: only a serving
 * inference job reports one, and only as the bare origin (http or https) of the host and
 * port its assignment was given, so a job cannot point users at any other server.
 */
export const endpointProblem = (
  record: JobRecord,
  assignment: Assignment,
  url: string,
): EndpointProblem | undefined => {
  if (record.job.kind !== "inference" || !assignment.serve)
    return { kind: "forbidden", message: `job ${record.job.id} is not an inference deployment` };
  if (record.job.phase !== "TRAINING")
    return { kind: "forbidden", message: `job ${record.job.id} is not serving` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: "invalid", message: "not a URL" };
  }
  const { host, port } = assignment.serve;
  const bare =
    parsed.username === "" &&
    parsed.password === "" &&
    parsed.pathname === "/" &&
    parsed.search === "" &&
    parsed.hash === "";
  const defaultPort = parsed.protocol === "https:" ? 443 : 80;
  const servedAt =
    (parsed.protocol === "http:" || parsed.protocol === "https:") &&
    hostOf(parsed.hostname) === hostOf(host) &&
    Number(parsed.port || defaultPort) === port;
  return bare && servedAt
    ? undefined
    : {
        kind: "invalid",
        message: `must be http://${host}:${port} (or https), where the job serves`,
      };
};
