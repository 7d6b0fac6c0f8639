import type { ReapReport } from "../../use-cases/reap.ts";

/** The local stand-in for the stack's reaper schedule: a run now and then, one at a time. */
export interface PeriodicReaper {
  /** Runs the reaper once, after any run in flight: it sees what was done before the call. */
  reapNow(): Promise<ReapReport>;
  /** No further run starts; resolves once the one in flight, if any, has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `reap` every `intervalMs` (0: only when asked), each run starting once the previous
 * one ended, so runs never overlap, and a slow one delays the next rather than piling up.
 * A run that throws is handed to `onFailure` and the schedule goes on, as on AWS, where
 * the next scheduled invocation runs whatever the last one did.
 */
export const startPeriodicReaper = (options: {
  intervalMs: number;
  reap: () => Promise<ReapReport>;
  onReport: (report: ReapReport) => void;
  onFailure: (error: unknown) => void;
}): PeriodicReaper => {
  let last: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): Promise<ReapReport> => {
    const next = last.then(options.reap);
    last = next.then(options.onReport, options.onFailure);
    return next;
  };
  const schedule = () => {
    if (stopped || options.intervalMs <= 0) return;
    timer = setTimeout(() => {
      run().catch(() => {});
      last.then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    reapNow: run,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await last;
    },
  };
};
