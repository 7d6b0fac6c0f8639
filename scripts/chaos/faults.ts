/**
 * The faults a campaign injects into a running local control plane, each through the hook
 * the local runtime gives for it: compute faults (capacity, throttling), faults on a live
 * instance (an agent killed, a spot notice), a restart of the control plane on its state
 * folder, and agents' reports delivered twice or late. A fault that finds nothing to strike
 * (no spot instance running, no report yet) is skipped, and the campaign says why.
 */
import { AGENT_API } from "../../agent/protocol.ts";
import type { startLocalControlPlane } from "../../lambdas/adapters/local/local-control-plane.ts";
import type { Instance } from "../../lambdas/domain/instance.ts";
import type { Random } from "./random.ts";

export const FAULT_KINDS = [
  "agentKill",
  "restart",
  "capacity",
  "throttle",
  "spotNotice",
  "duplicateCallback",
  "staleCallback",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type LocalControlPlane = Awaited<ReturnType<typeof startLocalControlPlane>>;

/** An agent's report as it reached the API, to deliver again. */
export interface RecordedReport {
  path: string;
  headers: Record<string, string>;
  body: string;
}

const REPORT_PATHS: readonly string[] = [AGENT_API.succeed, AGENT_API.fail];

/** Keeps each agent report the API receives, for duplicate and out-of-order delivery. */
export const reportRecorder = () => {
  const reports: RecordedReport[] = [];
  const probe = async (request: Request, handle: () => Promise<Response>) => {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && REPORT_PATHS.includes(pathname)) {
      const headers = Object.fromEntries(
        [...request.headers].filter(([name]) => name !== "host" && name !== "content-length"),
      );
      reports.push({ path: pathname, headers, body: await request.clone().text() });
    }
    return handle();
  };
  return { reports, probe };
};

/** What became of one fault: struck, or skipped and why. */
export type FaultOutcome = { struck: string } | { skipped: string };

export interface FaultContext {
  local: () => LocalControlPlane;
  restart: () => Promise<void>;
  reports: readonly RecordedReport[];
  random: Random;
}

/** Instances working for a job now, the spot ones alone when `spot`. */
const working = async (local: LocalControlPlane, spot: boolean): Promise<Instance[]> => {
  const [launching, executing] = await Promise.all([
    local.cp.instances.listByStatus("LAUNCHING"),
    local.cp.instances.listByStatus("EXECUTING"),
  ]);
  return [...launching, ...executing].filter((instance) => !spot || instance.spot);
};

const deliver = async (local: LocalControlPlane, report: RecordedReport): Promise<number> => {
  const response = await fetch(`${local.endpoint}${report.path}`, {
    method: "POST",
    headers: report.headers,
    body: report.body,
  });
  await response.body?.cancel();
  return response.status;
};

export const injectFault = async (
  kind: FaultKind,
  context: FaultContext,
): Promise<FaultOutcome> => {
  const local = context.local();
  const { random, reports } = context;
  switch (kind) {
    case "restart":
      await context.restart();
      return { struck: "control plane stopped and started again on its state folder" };
    case "capacity":
    case "throttle": {
      const fault = kind === "capacity" ? "noCapacity" : "throttled";
      const times = random.between(1, 3);
      local.faults.inject({ fault, times });
      return { struck: `the next ${times} compute call(s) refused: ${fault}` };
    }
    case "agentKill": {
      const target = random.pick(await working(local, false));
      if (!target) return { skipped: "no instance was working for a job" };
      await local.compute.killAgent(target.id);
      return { struck: `agent of ${target.id} killed` };
    }
    case "spotNotice": {
      const target = random.pick(await working(local, true));
      if (!target) return { skipped: "no spot instance was working for a job" };
      local.compute.interrupt(target.id, { noticeMs: 1000 });
      return { struck: `spot notice to ${target.id}` };
    }
    case "duplicateCallback": {
      const report = reports.at(-1);
      if (!report) return { skipped: "no agent had reported yet" };
      const status = await deliver(local, report);
      return { struck: `latest report on ${report.path} delivered again: ${status}` };
    }
    case "staleCallback": {
      const report = random.pick(reports.slice(0, -1));
      if (!report) return { skipped: "no earlier agent report to deliver late" };
      const status = await deliver(local, report);
      return { struck: `an earlier report on ${report.path} delivered late: ${status}` };
    }
  }
};
