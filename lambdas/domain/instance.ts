/** Instance statuses as AIbro names them; CLOSING and CLOSED carry how the instance ends. */
export const INSTANCE_STATUSES = [
  "LAUNCHING",
  "EXECUTING",
  "COOLING",
  "CLOSING",
  "CLOSED",
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export type ClosingSubstatus = "STOPPING" | "TERMINATING";
export type ClosedSubstatus = "STOPPED" | "TERMINATED";
export type CloseAction = "stop" | "terminate";

/**
 * Which instances can stand in for one another: a warm or stopped instance is reused only
 * by a job of the same pool. The owner is part of it, so an instance, its disk and its env
 * cache only ever serve the jobs of the one user it was launched for.
 */
export interface InstancePool {
  instanceType: string;
  envHash: string;
  region: string;
  owner: string;
}

export type InstanceState =
  /**
   * Booting, or being set up for its job (connect, gear up, send model and data), also
   * when reused. `agentReady` once its agent is known to answer: freeing it then cools it.
   */
  | { status: "LAUNCHING"; jobId: string; agentReady: boolean }
  /** Running its one job (TRAINING, RETURNING). */
  | { status: "EXECUTING"; jobId: string }
  | { status: "COOLING" }
  | { status: "CLOSING"; substatus: ClosingSubstatus }
  | { status: "CLOSED"; substatus: ClosedSubstatus };

export type Instance = InstanceState & {
  id: string;
  /** The compute's own id for it (the EC2 instance id), once it is launched. */
  providerId?: string;
  pool: InstancePool;
  /** A one-time spot instance cannot be stopped, only terminated. */
  spot: boolean;
  /** Bumped each time the instance starts cooling, so a stale cooling timer cannot close it. */
  coolingEpoch: number;
  version: number;
  /** When the store last wrote it: where the time spent since its previous change starts. */
  updatedAt?: string;
  /** The time it spent before its last change, as cost counts it (domain/cost.ts `accrueUsage`). */
  usage?: InstanceUsage;
} & Partial<CoolingSchedule>;

/** Seconds an instance spent running (launching, executing, cooling) and stopped. */
export interface InstanceUsage {
  runningS: number;
  stoppedS: number;
}

/**
 * When a freed instance's cooling plan stops it and then terminates it (ISO times; equal
 * when it is terminated without being stopped). Kept while it cools and while it is
 * stopped by that plan; a job that takes the instance clears it.
 */
export interface CoolingSchedule {
  coolingUntil: string;
  stoppedUntil: string;
}

export type InstanceEvent =
  | { type: "agentRegistered" }
  | { type: "jobRunning" }
  | ({ type: "released" } & CoolingSchedule)
  | { type: "claimed"; jobId: string }
  /**
   * A warm instance taken for a multi-node job's set that could not be completed goes back
   * to cooling as it was: its plan, and its epoch, so the timer it had carries the plan out.
   */
  | ({ type: "unclaimed" } & CoolingSchedule)
  | { type: "started"; jobId: string }
  /** The compute could not start it (no capacity): it is stopped again, its cooling plan back. */
  | ({ type: "startFailed" } & Partial<CoolingSchedule>)
  | { type: "coolingExpired"; coolingEpoch: number; action: CloseAction }
  /** The cooling timer itself failed: the instance goes rather than run on unwatched. */
  | { type: "coolingFailed"; coolingEpoch: number; cause: string }
  | { type: "closeRequested"; action: CloseAction }
  | { type: "stopped" }
  /** It stopped without the control plane asking (a shutdown from inside, the console). */
  | { type: "stoppedOutside" }
  | { type: "terminated" };

export type InstanceTransitionResult =
  | { ok: true; instance: Instance }
  | {
      ok: false;
      refusal: { status: InstanceStatus; event: InstanceEvent["type"]; message: string };
    };

const CLOSING_BY_ACTION: Record<CloseAction, ClosingSubstatus> = {
  stop: "STOPPING",
  terminate: "TERMINATING",
};

const substatusOf = (instance: Instance): string | undefined =>
  instance.status === "CLOSING" || instance.status === "CLOSED" ? instance.substatus : undefined;

interface Refused {
  refused: string;
}
const ILLEGAL: Refused = { refused: "not a legal transition" };

/** The state an event moves an instance to, or why it may not. */
const next = (instance: Instance, event: InstanceEvent): InstanceState | Refused => {
  const sub = substatusOf(instance);
  const closing = (action: CloseAction): InstanceState | Refused =>
    action === "stop" && instance.spot
      ? { refused: "a spot instance cannot be stopped, only terminated" }
      : { status: "CLOSING", substatus: CLOSING_BY_ACTION[action] };
  switch (event.type) {
    case "agentRegistered":
      return instance.status === "LAUNCHING"
        ? { status: "LAUNCHING", jobId: instance.jobId, agentReady: true }
        : ILLEGAL;
    case "jobRunning":
      return instance.status === "LAUNCHING"
        ? { status: "EXECUTING", jobId: instance.jobId }
        : ILLEGAL;
    case "released":
      return instance.status === "EXECUTING" ||
        (instance.status === "LAUNCHING" && instance.agentReady)
        ? { status: "COOLING" }
        : ILLEGAL;
    // A warm instance's agent is up; a started one's has yet to answer.
    case "claimed":
      return instance.status === "COOLING"
        ? { status: "LAUNCHING", jobId: event.jobId, agentReady: true }
        : ILLEGAL;
    case "unclaimed":
      return instance.status === "LAUNCHING" && instance.agentReady
        ? { status: "COOLING" }
        : ILLEGAL;
    case "started":
      return sub === "STOPPED"
        ? { status: "LAUNCHING", jobId: event.jobId, agentReady: false }
        : ILLEGAL;
    case "startFailed":
      return instance.status === "LAUNCHING" && !instance.agentReady
        ? { status: "CLOSED", substatus: "STOPPED" }
        : ILLEGAL;
    case "coolingExpired":
      if (instance.status !== "COOLING") return ILLEGAL;
      if (event.coolingEpoch !== instance.coolingEpoch)
        return { refused: "the instance was reused since" };
      return closing(event.action);
    case "coolingFailed":
      if (event.coolingEpoch !== instance.coolingEpoch)
        return { refused: "the instance was reused since" };
      if (instance.status === "COOLING" || sub === "STOPPED" || sub === "STOPPING")
        return closing("terminate");
      return ILLEGAL;
    case "closeRequested":
      if (instance.status !== "CLOSING" && instance.status !== "CLOSED")
        return closing(event.action);
      return sub === "STOPPED" && event.action === "terminate" ? closing("terminate") : ILLEGAL;
    case "stopped":
      return sub === "STOPPING" ? { status: "CLOSED", substatus: "STOPPED" } : ILLEGAL;
    case "stoppedOutside":
      if (instance.spot) return { refused: "a spot instance cannot be stopped, only terminated" };
      return instance.status === "LAUNCHING" ||
        instance.status === "EXECUTING" ||
        instance.status === "COOLING"
        ? { status: "CLOSED", substatus: "STOPPED" }
        : ILLEGAL;
    case "terminated":
      return sub === "TERMINATED" ? ILLEGAL : { status: "CLOSED", substatus: "TERMINATED" };
  }
};

/** `STATUS` or `STATUS/SUBSTATUS`. */
export const statusLabel = (instance: Instance): string => {
  const sub = substatusOf(instance);
  return sub ? `${instance.status}/${sub}` : instance.status;
};

/** Applies one event to an instance; a refused event leaves it as it was. */
export const transitionInstance = (
  instance: Instance,
  event: InstanceEvent,
): InstanceTransitionResult => {
  const to = next(instance, event);
  if ("refused" in to) {
    const message = `${event.type} in ${statusLabel(instance)}: ${to.refused}`;
    return { ok: false, refusal: { status: instance.status, event: event.type, message } };
  }
  const { id, providerId, pool, spot, version } = instance;
  const newCooling = to.status === "COOLING" && event.type !== "unclaimed";
  const coolingEpoch = instance.coolingEpoch + (newCooling ? 1 : 0);
  const state = {
    ...to,
    id,
    ...(providerId ? { providerId } : {}),
    pool,
    spot,
    coolingEpoch,
    version: version + 1,
  };
  return { ok: true, instance: { ...state, ...scheduleAfter(instance, event, to) } };
};

/** The cooling schedule an instance carries after an event: set on release, kept until a job or termination. */
const scheduleAfter = (
  instance: Instance,
  event: InstanceEvent,
  to: InstanceState,
): Partial<CoolingSchedule> => {
  if (event.type === "released" || event.type === "startFailed" || event.type === "unclaimed") {
    const { coolingUntil, stoppedUntil } = event;
    return coolingUntil && stoppedUntil ? { coolingUntil, stoppedUntil } : {};
  }
  const kept =
    to.status === "COOLING" ||
    (to.status === "CLOSING" && to.substatus === "STOPPING") ||
    (to.status === "CLOSED" && to.substatus === "STOPPED");
  const { coolingUntil, stoppedUntil } = instance;
  return kept && coolingUntil && stoppedUntil ? { coolingUntil, stoppedUntil } : {};
};

/**
 * Whether a job that asks for `request`'s market may take a reusable instance of `market`:
 * an on-demand job never runs on spot capacity, and a spot job takes an on-demand instance
 * only where its spec allows on-demand capacity (`onDemandFallback`).
 */
export const marketAllows = (
  request: { spot: boolean; onDemandFallback: boolean },
  market: { spot: boolean },
): boolean => (market.spot ? request.spot : !request.spot || request.onDemandFallback);

/** A new instance, booting for the job that asked for it. */
export const launchInstance = (fields: {
  id: string;
  providerId?: string;
  pool: InstancePool;
  spot: boolean;
  jobId: string;
}): Instance => ({
  ...fields,
  status: "LAUNCHING",
  agentReady: false,
  coolingEpoch: 0,
  version: 1,
});

export const aibroInstanceStatus = (
  instance: Instance,
): { status: InstanceStatus; substatus?: string } => {
  // AIbro's status-substatus map lists COOLING in the substatus column too.
  const substatus = instance.status === "COOLING" ? "COOLING" : substatusOf(instance);
  return substatus ? { status: instance.status, substatus } : { status: instance.status };
};
