/** AIbro's timeline periods, in the order a job passes them. */
export const TIMELINE_PHASES = [
  "Job Create",
  "Request Launch",
  "Instance Connect",
  "API Transfer & Server Setup",
  "M&D Serialization",
  "Env Gear up",
  "M&D Transfer",
  "M&D Deserialization",
  "Model Training",
  "Result Serialization",
  "Result Transfer",
] as const;
export type TimelinePhase = (typeof TIMELINE_PHASES)[number];

/** ISO-8601 start and end of each period a job has entered. */
export type Timeline = Partial<
  Record<TimelinePhase, { startedAt: string; endedAt?: string | undefined }>
>;

export interface TimelinePeriod {
  phase: TimelinePhase;
  startedAt: string;
  endedAt?: string;
  /** Length in seconds; an open period is measured up to `now`. */
  seconds: number;
}

export type TimelineResult = { ok: true; timeline: Timeline } | { ok: false; message: string };

const refuse = (message: string): TimelineResult => ({ ok: false, message });

/** Records the start of a period; Request Launch only exists for spot requests. */
export const startPeriod = (
  timeline: Timeline,
  phase: TimelinePhase,
  at: string,
  job: { spot: boolean },
): TimelineResult => {
  if (phase === "Request Launch" && !job.spot)
    return refuse("Request Launch applies to spot instances only");
  if (Number.isNaN(Date.parse(at))) return refuse(`${phase}: ${at} is not an ISO-8601 time`);
  return { ok: true, timeline: { ...timeline, [phase]: { startedAt: at } } };
};

export const endPeriod = (timeline: Timeline, phase: TimelinePhase, at: string): TimelineResult => {
  const period = timeline[phase];
  if (!period) return refuse(`${phase} has not started`);
  if (period.endedAt) return refuse(`${phase} has already ended`);
  if (!(Date.parse(at) >= Date.parse(period.startedAt)))
    return refuse(`${phase} cannot end before it started`);
  return { ok: true, timeline: { ...timeline, [phase]: { ...period, endedAt: at } } };
};

/** The periods a job passed, in timeline order, with their durations. */
export const timelinePeriods = (timeline: Timeline, now: string): TimelinePeriod[] =>
  TIMELINE_PHASES.flatMap((phase) => {
    const period = timeline[phase];
    if (!period) return [];
    const end = period.endedAt ?? now;
    const seconds = Math.max(0, (Date.parse(end) - Date.parse(period.startedAt)) / 1000);
    const { startedAt, endedAt } = period;
    return [{ phase, startedAt, ...(endedAt ? { endedAt } : {}), seconds }];
  });
