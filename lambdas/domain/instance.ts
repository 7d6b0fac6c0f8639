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

export interface InstancePool {
  instanceType: string;
  envHash: string;
  region: string;
}

export type InstanceState =
  | { status: "LAUNCHING" | "EXECUTING"; jobId: string }
  | { status: "COOLING" }
  | { status: "CLOSING"; substatus: ClosingSubstatus }
  | { status: "CLOSED"; substatus: ClosedSubstatus };

export type Instance = InstanceState & {
  id: string;
  pool: InstancePool;
  /** A one-time spot instance cannot be stopped, only terminated. */
  spot: boolean;
  /** Bumped each time the instance starts cooling, so a stale cooling timer cannot close it. */
  coolingEpoch: number;
  version: number;
};

export type InstanceEvent =
  | { type: "agentRegistered" }
  | { type: "released" }
  | { type: "claimed"; jobId: string }
  | { type: "started"; jobId: string }
  | { type: "coolingExpired"; coolingEpoch: number; action: CloseAction }
  | { type: "closeRequested"; action: CloseAction }
  | { type: "stopped" }
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
        ? { status: "EXECUTING", jobId: instance.jobId }
        : ILLEGAL;
    case "released":
      return instance.status === "EXECUTING" ? { status: "COOLING" } : ILLEGAL;
    case "claimed":
      return instance.status === "COOLING" ? { status: "EXECUTING", jobId: event.jobId } : ILLEGAL;
    case "started":
      return sub === "STOPPED" ? { status: "LAUNCHING", jobId: event.jobId } : ILLEGAL;
    case "coolingExpired":
      if (instance.status !== "COOLING") return ILLEGAL;
      if (event.coolingEpoch !== instance.coolingEpoch)
        return { refused: "the instance was reused since" };
      return closing(event.action);
    case "closeRequested":
      if (instance.status !== "CLOSING" && instance.status !== "CLOSED")
        return closing(event.action);
      return sub === "STOPPED" && event.action === "terminate" ? closing("terminate") : ILLEGAL;
    case "stopped":
      return sub === "STOPPING" ? { status: "CLOSED", substatus: "STOPPED" } : ILLEGAL;
    case "terminated":
      return sub === "TERMINATED" ? ILLEGAL : { status: "CLOSED", substatus: "TERMINATED" };
  }
};

const label = (instance: Instance): string => {
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
    const message = `${event.type} in ${label(instance)}: ${to.refused}`;
    return { ok: false, refusal: { status: instance.status, event: event.type, message } };
  }
  const { id, pool, spot, version } = instance;
  const coolingEpoch = instance.coolingEpoch + (to.status === "COOLING" ? 1 : 0);
  return { ok: true, instance: { ...to, id, pool, spot, coolingEpoch, version: version + 1 } };
};

/** A new instance, booting for the job that asked for it. */
export const launchInstance = (fields: {
  id: string;
  pool: InstancePool;
  spot: boolean;
  jobId: string;
}): Instance => ({ ...fields, status: "LAUNCHING", coolingEpoch: 0, version: 1 });

export const aibroInstanceStatus = (
  instance: Instance,
): { status: InstanceStatus; substatus?: string } => {
  // AIbro's status-substatus map lists COOLING in the substatus column too.
  const substatus = instance.status === "COOLING" ? "COOLING" : substatusOf(instance);
  return substatus ? { status: instance.status, substatus } : { status: instance.status };
};
