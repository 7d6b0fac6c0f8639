/** setTimeout fires at once past 2^31-1 ms, so the runner's timers end at ~24.8 days. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export type Timer = ReturnType<typeof setTimeout>;
