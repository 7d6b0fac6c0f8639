/**
 * Every metric gpuctl publishes, and how each data point follows from what happened. The
 * stack's dashboard and alarms read these very entries, so a metric renamed here is renamed
 * there. Nothing is published at rest: a point exists only when something happened, never
 * as a zero, because each metric published in a month is billed (by the hour it is sent).
 */
import { type CostModel, idleOverhead } from "./cooling-policy.ts";
import type { Instance } from "./instance.ts";
import { isTerminal, PHASES, type Phase } from "./phases.ts";
import { TIMELINE_PHASES, type Timeline, timelinePeriods } from "./timeline.ts";

export const METRICS_NAMESPACE = "gpuctl";

/** The dimension every point carries besides its own (Powertools' `service`). */
export const SERVICE_DIMENSION = { name: "service", value: "gpuctl" } as const;

/** What an instance's time is spent on, as GPU-hours are counted: working, warm and idle, or stopped. */
export const INSTANCE_USES = ["running", "cooling", "stopped"] as const;
export type InstanceUse = (typeof INSTANCE_USES)[number];

export interface MetricDefinition {
  unit: "Count" | "Seconds" | "None";
  /** Each dimension a point carries besides `service`, and the values it takes. */
  dimensions: Readonly<Record<string, readonly string[]>>;
  /** What the metric measures, and when a point is published. */
  meaning: string;
}

export const METRICS = {
  TimelinePeriod: {
    unit: "Seconds",
    dimensions: { Period: TIMELINE_PHASES },
    meaning:
      "how long a job spent in one period of its timeline, one point per period it entered, published when the job ends",
  },
  JobPhaseEntered: {
    unit: "Count",
    dimensions: { Phase: PHASES },
    meaning: "a job entered this phase (submitted, or moved by a transition)",
  },
  InstanceSeconds: {
    unit: "Seconds",
    dimensions: { Use: INSTANCE_USES },
    meaning:
      "time an instance spent running for a job, cooling (warm, idle) or stopped, published when it leaves that status",
  },
  IdleCost: {
    unit: "None",
    dimensions: {},
    meaning:
      "estimated US dollars an instance's cooling (running price) or stopped time (its volume's storage) cost, published when it leaves that status",
  },
  OrphanInstances: {
    unit: "Count",
    dimensions: {},
    meaning:
      "instances tagged by gpuctl that no live job holds, found by the reaper (published only when it finds some)",
  },
  StuckJobs: {
    unit: "Count",
    dimensions: {},
    meaning:
      "jobs longer in one phase than that phase should take, found by the reaper (published only when it finds some)",
  },
  DeleteFailedJobs: {
    unit: "Count",
    dimensions: {},
    meaning:
      "canceled jobs whose instance could not be stopped or terminated yet (CANCELING, DELETE_FAILED: a GPU that may still bill), found by the reaper, which keeps trying (published only when it finds some)",
  },
  ReaperFailures: {
    unit: "Count",
    dimensions: {},
    meaning: "reaper actions that threw (published only when one did)",
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** The dimensions (besides `service`) a point of metric `N` carries, and their values. */
export type MetricDimensions<N extends MetricName> = {
  [D in keyof (typeof METRICS)[N]["dimensions"]]: (typeof METRICS)[N]["dimensions"][D] extends readonly (infer V)[]
    ? V
    : never;
};

/** One data point: a metric, its value in the metric's unit, and its own dimensions. */
export type MetricPoint = {
  [N in MetricName]: { name: N; value: number; dimensions: MetricDimensions<N> };
}[MetricName];

/**
 * A job that ended: how long it spent in each period of its timeline, as its owner's
 * `timeline` shows them (the periods tile its life; the last ends when the job did).
 */
export const timelinePoints = (timeline: Timeline, endedAt: string): MetricPoint[] =>
  timelinePeriods(timeline, endedAt, endedAt).map(({ phase, seconds }) => ({
    name: "TimelinePeriod",
    value: seconds,
    dimensions: { Period: phase },
  }));

/**
 * A job moved from `from` (none: just submitted) to `to` at `at`: the phase it entered
 * and, when that ends it, its timeline. A transition within one phase is no news.
 */
export const jobChangePoints = (change: {
  from: Phase | undefined;
  to: Phase;
  timeline: Timeline;
  at: string;
}): MetricPoint[] => {
  if (change.from === change.to) return [];
  const entered: MetricPoint = {
    name: "JobPhaseEntered",
    value: 1,
    dimensions: { Phase: change.to },
  };
  return isTerminal(change.to)
    ? [entered, ...timelinePoints(change.timeline, change.at)]
    : [entered];
};

/**
 * What an instance in this status is spending: a GPU at work (launching or set up for a
 * job, executing it), a warm idle one, a stopped one's disk. Closing takes seconds and a
 * terminated instance costs nothing: neither is counted.
 */
export const instanceUse = (instance: Instance): InstanceUse | undefined => {
  switch (instance.status) {
    case "LAUNCHING":
    case "EXECUTING":
      return "running";
    case "COOLING":
      return "cooling";
    case "CLOSED":
      return instance.substatus === "STOPPED" ? "stopped" : undefined;
    case "CLOSING":
      return undefined;
  }
};

/**
 * An instance changed at `at`: the time since its previous change (`before.updatedAt`,
 * as the store recorded it) was spent as `before`'s status spends it, and idle time has
 * an estimated cost. Nothing when that previous change is not known.
 */
export const instanceChangePoints = (
  before: Instance,
  at: string,
  model: CostModel,
): MetricPoint[] => {
  const use = instanceUse(before);
  const seconds = (Date.parse(at) - Date.parse(before.updatedAt ?? "")) / 1000;
  if (!use || !(seconds > 0)) return [];
  const spent: MetricPoint = { name: "InstanceSeconds", value: seconds, dimensions: { Use: use } };
  if (use === "running") return [spent];
  const overhead =
    use === "cooling"
      ? idleOverhead({ warmS: seconds, stoppedS: 0 }, seconds, model).idle
      : idleOverhead({ warmS: 0, stoppedS: seconds }, seconds, model).stopped;
  return [spent, { name: "IdleCost", value: overhead, dimensions: {} }];
};

/** What one reaper run found; only what it did find is published. */
export const reaperPoints = (found: {
  orphans: number;
  stuckJobs: number;
  failures: number;
  deleteFailed: number;
}): MetricPoint[] => {
  const points: MetricPoint[] = [
    { name: "OrphanInstances", value: found.orphans, dimensions: {} },
    { name: "StuckJobs", value: found.stuckJobs, dimensions: {} },
    { name: "DeleteFailedJobs", value: found.deleteFailed, dimensions: {} },
    { name: "ReaperFailures", value: found.failures, dimensions: {} },
  ];
  return points.filter((point) => point.value > 0);
};
