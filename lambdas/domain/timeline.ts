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

/** How long before its record a client may say it began preparing a job. */
export const MAX_PREPARATION_S = 24 * 3600;

/**
 * When a job's Job Create period starts: when its client began preparing it (reading the
 * spec, uploading inputs), if it says so, else at its record. A client clock slightly
 * ahead counts as now; a time that is not ISO 8601 or over a day old is refused.
 */
export const jobCreateStart = (
  preparedSince: string | undefined,
  recordedAt: string,
): { ok: true; at: string } | { ok: false; message: string } => {
  if (preparedSince === undefined) return { ok: true, at: recordedAt };
  const since = Date.parse(preparedSince);
  if (!/^\d{4}-\d\d-\d\dT/.test(preparedSince) || Number.isNaN(since))
    return { ok: false, message: "must be an ISO-8601 time" };
  const recorded = Date.parse(recordedAt);
  if (recorded - since > MAX_PREPARATION_S * 1000)
    return { ok: false, message: `must be within ${MAX_PREPARATION_S} s before the submit` };
  return { ok: true, at: new Date(Math.min(since, recorded)).toISOString() };
};

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

/**
 * The periods a job passed, in timeline order, tiling its life with no gap and no overlap:
 * each runs from where the one before it ended to its own end, or to where the next one
 * began if that is sooner (an agent measures a step inside the control plane's wait for
 * it). Time between two measured periods, the control plane handing the next step over,
 * counts toward the later one. The last period, still open, runs to `now`; a job that has
 * ended (`endedAt`) closes it then.
 */
export const timelinePeriods = (
  timeline: Timeline,
  now: string,
  endedAt?: string,
): TimelinePeriod[] => {
  const entered = TIMELINE_PHASES.filter((phase) => timeline[phase]);
  const startOf = (phase: TimelinePhase | undefined) =>
    phase ? Date.parse(timeline[phase]?.startedAt ?? "") : Number.NaN;
  const valid = (ms: number) => (Number.isNaN(ms) ? undefined : ms);
  let boundary: number | undefined;
  return entered.map((phase, index) => {
    const own = timeline[phase] as NonNullable<Timeline[TimelinePhase]>;
    const start = boundary ?? valid(startOf(phase)) ?? Date.parse(now);
    const ownEnd = valid(Date.parse(own.endedAt ?? ""));
    const nextStart = valid(startOf(entered[index + 1]));
    const closing = ownEnd ?? nextStart ?? valid(Date.parse(endedAt ?? ""));
    const end = Math.max(start, Math.min(closing ?? Date.parse(now), nextStart ?? Infinity));
    boundary = end;
    const open = closing === undefined;
    return {
      phase,
      startedAt: new Date(start).toISOString(),
      ...(open ? {} : { endedAt: new Date(end).toISOString() }),
      seconds: (end - start) / 1000,
    };
  });
};
