import type { TimelineView } from "../../sdk/api-types.ts";
import { TIMELINE_CHARTS, type TimelineChart, timelineSvg } from "../../sdk/timeline-chart.ts";
import { h } from "./dom.ts";

const SVG = "http://www.w3.org/2000/svg";
const TITLES: Record<TimelineChart, string> = {
  funnel: "Timeline: each period in order",
  pie: "Timeline: each period's share",
};

/**
 * One chart as SVG elements. The picture is made from the API's data (the chart module
 * escapes its text), then parsed as an SVG document on its own, never as HTML: what comes
 * out is an <svg> element or a note that there is no picture. The page's policy runs no
 * script and no inline handler an SVG might carry.
 */
const chartElement = (periods: TimelineView["periods"], chart: TimelineChart): Element => {
  const parsed = new DOMParser().parseFromString(
    timelineSvg(periods, chart, { title: TITLES[chart] }),
    "image/svg+xml",
  );
  const root = parsed.documentElement;
  if (
    root.namespaceURI !== SVG ||
    root.localName !== "svg" ||
    parsed.getElementsByTagName("parsererror").length
  )
    return h("p", { class: "muted" }, `The ${chart} chart could not be drawn.`);
  return document.importNode(root, true);
};

/** A job's timeline (`GET /v1/jobs/{id}/timeline`) as AIbro draws it: a funnel and a pie. */
export const timelineView = (periods: TimelineView["periods"]) =>
  h(
    "div",
    { class: "charts" },
    ...TIMELINE_CHARTS.map((chart) =>
      h("figure", { class: "chart", id: `chart-${chart}` }, chartElement(periods, chart)),
    ),
  );
