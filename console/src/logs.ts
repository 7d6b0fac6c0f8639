import { LOG_STREAMS, type LogChunk, type LogStream } from "../../lambdas/domain/logs.ts";
import { ApiRequestError, api } from "./api.ts";
import { h } from "./dom.ts";

/** Slices fetched per stream and refresh, so a long log catches up without one huge wait. */
const SLICES_PER_REFRESH = 20;

/**
 * A job's log streams (its run's stdout and stderr, its setup's), appended as they grow; a
 * stream shows once it has text. Hidden until the logs route answers: a control plane
 * without that route shows no logs section at all.
 */
export const logPanel = (jobId: string) => {
  const streams = LOG_STREAMS.map((stream) => {
    const pane = h("pre", { class: "log", id: `log-${stream}` });
    return {
      stream,
      pane,
      element: h("div", { hidden: "" }, h("h3", {}, stream), pane),
      offset: 0,
      ended: false,
    };
  });
  let served = true;
  const element = h(
    "section",
    { id: "logs", hidden: "" },
    h("h2", {}, "Logs"),
    ...streams.map(({ element }) => element),
  );

  const follow = async (shown: (typeof streams)[number], signal: AbortSignal) => {
    for (let slice = 0; slice < SLICES_PER_REFRESH && !shown.ended; slice++) {
      const query = new URLSearchParams({ stream: shown.stream, offset: String(shown.offset) });
      const read = await api<LogChunk & { stream: LogStream }>(
        `/v1/jobs/${encodeURIComponent(jobId)}/logs?${query}`,
        { signal },
      );
      element.hidden = false;
      if (read.size < shown.offset) {
        // A retry on another instance writes a log of its own: it is shown from its start.
        shown.offset = 0;
        shown.pane.replaceChildren();
        continue;
      }
      if (read.text) {
        shown.pane.append(read.text);
        shown.element.hidden = false;
      }
      shown.offset = read.nextOffset;
      shown.ended = read.ended && read.nextOffset >= read.size;
      if (read.nextOffset >= read.size) return;
    }
  };

  /** Fetches what each stream gained since the last update. */
  const update = async (signal: AbortSignal) => {
    if (!served) return;
    try {
      for (const shown of streams) await follow(shown, signal);
    } catch (error) {
      if (!(error instanceof ApiRequestError) || error.status === 401) throw error;
      // No logs route here; any other refusal (no log yet) is tried again next time.
      if (error.noSuchRoute) served = false;
    }
  };
  return { element, update };
};
