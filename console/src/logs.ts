import { ApiRequestError, api, segment } from "./api.ts";
import { h } from "./dom.ts";

/** `GET /v1/jobs/{id}/logs`: one slice of a stream, from `offset` up to `nextOffset` of `size` bytes. */
interface LogSlice {
  stream: Stream;
  offset: number;
  nextOffset: number;
  size: number;
  text: string;
  /** The stream is complete: the job's run ended and its last bytes are in. */
  ended: boolean;
}

const STREAMS = ["stdout", "stderr"] as const;
type Stream = (typeof STREAMS)[number];

/** Slices fetched per stream and refresh, so a long log catches up without one huge wait. */
const SLICES_PER_REFRESH = 20;

/**
 * A job's stdout and stderr, appended as they grow. Hidden until the logs route answers: a
 * control plane without that route shows no logs section at all.
 */
export const logPanel = (jobId: string) => {
  const panes = Object.fromEntries(
    STREAMS.map((stream) => [stream, h("pre", { class: "log", id: `log-${stream}` })]),
  ) as Record<Stream, HTMLPreElement>;
  const offsets: Record<Stream, number> = { stdout: 0, stderr: 0 };
  const ended: Record<Stream, boolean> = { stdout: false, stderr: false };
  let served = true;
  const element = h(
    "section",
    { id: "logs", hidden: "" },
    h("h2", {}, "Logs"),
    ...STREAMS.flatMap((stream) => [h("h3", {}, stream), panes[stream]]),
  );

  const follow = async (stream: Stream, signal: AbortSignal) => {
    for (let slice = 0; slice < SLICES_PER_REFRESH && !ended[stream]; slice++) {
      const query = new URLSearchParams({ stream, offset: String(offsets[stream]) });
      const read = await api<LogSlice>(`/v1/jobs/${segment(jobId)}/logs?${query}`, { signal });
      element.hidden = false;
      panes[stream].append(read.text);
      offsets[stream] = read.nextOffset;
      ended[stream] = read.ended && read.nextOffset >= read.size;
      if (read.nextOffset >= read.size) return;
    }
  };

  /** Fetches what each stream gained since the last update. */
  const update = async (signal: AbortSignal) => {
    if (!served) return;
    try {
      for (const stream of STREAMS) await follow(stream, signal);
    } catch (error) {
      if (!(error instanceof ApiRequestError) || error.status === 401) throw error;
      // No logs route here; any other refusal (no log yet) is tried again next time.
      if (error.noSuchRoute) served = false;
    }
  };
  return { element, update };
};
