import type { Dialect } from "../../lambdas/domain/dialects/index.ts";

/** Where a page draws, until `signal` says another page took its place. */
export interface Page {
  main: HTMLElement;
  signal: AbortSignal;
  dialect: Dialect;
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Runs `step` now and every `ms` after it, while it answers true (something is still
 * moving) and the page is still shown; its errors end the loop and go to the caller.
 */
export const refreshWhile = async (page: Page, ms: number, step: () => Promise<boolean>) => {
  while (!page.signal.aborted && (await step())) await pause(ms, page.signal);
};
