import { describe, expect, it } from "vitest";
import {
  TIMELINE_PHASES,
  type TimelinePeriod,
  type TimelinePhase,
} from "../../../lambdas/domain/timeline.ts";
import { svgToPng } from "../../../sdk/svg-png.ts";
import { formatDuration, PERIOD_COLORS, timelineSvg } from "../../../sdk/timeline-chart.ts";

/** Periods tiling a job's life from midnight, each `seconds` long; the last one open if asked. */
const periodsOf = (
  lengths: Partial<Record<TimelinePhase, number>>,
  options: { running?: boolean } = {},
): TimelinePeriod[] => {
  let at = Date.parse("2026-01-01T00:00:00.000Z");
  const entries = TIMELINE_PHASES.flatMap((phase) => {
    const seconds = lengths[phase];
    return seconds === undefined ? [] : [{ phase, seconds }];
  });
  return entries.map(({ phase, seconds }, i) => {
    const startedAt = new Date(at).toISOString();
    at += seconds * 1000;
    const open = options.running && i === entries.length - 1;
    return { phase, startedAt, ...(open ? {} : { endedAt: new Date(at).toISOString() }), seconds };
  });
};

/** Every period of an on-demand job, as the local control plane records them. */
const FINISHED = periodsOf({
  "Job Create": 2,
  "Instance Connect": 12,
  "API Transfer & Server Setup": 8,
  "M&D Serialization": 1.5,
  "Env Gear up": 44,
  "M&D Transfer": 6.5,
  "M&D Deserialization": 3,
  "Model Training": 320,
  "Result Serialization": 2,
  "Result Transfer": 3,
});
const TOTAL = FINISHED.reduce((sum, period) => sum + period.seconds, 0);

const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** The text a reader sees: every `<text>` element's content, unescaped, in document order. */
const texts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => unescapeXml(match[1] ?? ""));

/** A row of the pie's legend: the texts from the period's name up to the next name. */
const legendRow = (svg: string, phase: TimelinePhase): string[] => {
  const all = texts(svg);
  const start = all.indexOf(phase);
  const next = all.findIndex((text, i) => i > start && TIMELINE_PHASES.includes(text as never));
  return all.slice(start, next === -1 ? undefined : next);
};

/** Parses with resvg's strict XML parser, which refuses what a browser would refuse. */
const parses = (svg: string) => svgToPng(svg).then(() => true);

describe("timelineSvg: the funnel", () => {
  const svg = timelineSvg(FINISHED, "funnel", { title: "job-1 (train)" });

  it("names every period the job passed, with its duration, in the job's order", () => {
    const shown = texts(svg);
    expect(shown.filter((text) => TIMELINE_PHASES.includes(text as never))).toEqual(
      FINISHED.map((period) => period.phase),
    );
    expect(shown).toEqual(
      expect.arrayContaining(["2.0 s", "44.0 s", "5 min 20 s", "job-1 (train)"]),
    );
    expect(shown).not.toContain("Request Launch");
  });

  it("draws a bar per period in its colour, each one starting where the one before ended", () => {
    const bars = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]* fill="(#\w+)"/g),
    ].map(([, x, width, fill]) => ({ x: Number(x), width: Number(width), fill }));
    expect(bars.map((bar) => bar.fill)).toEqual(
      FINISHED.map((period) => PERIOD_COLORS[period.phase]),
    );
    for (const [i, bar] of bars.entries()) {
      const previous = bars[i - 1];
      if (previous) expect(bar.x).toBeCloseTo(previous.x + previous.width, 0);
    }
    const training = bars[FINISHED.findIndex((period) => period.phase === "Model Training")];
    expect(training?.width).toBeGreaterThan(
      (320 / TOTAL) * bars.reduce((sum, bar) => sum + bar.width, 0) - 1,
    );
  });

  it("is a well-formed SVG document", async () => {
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="900" height="\d+"/);
    expect(await parses(svg)).toBe(true);
  });
});

describe("timelineSvg: the pie", () => {
  const svg = timelineSvg(FINISHED, "pie", { title: "job-1 (train)" });

  it("has a legend row per period with its name, duration and share", () => {
    for (const period of FINISHED) {
      const percent = `${((period.seconds / TOTAL) * 100).toFixed(1)}%`;
      expect(legendRow(svg, period.phase)).toEqual([
        period.phase,
        formatDuration(period.seconds),
        percent,
      ]);
    }
    expect(legendRow(svg, "Model Training")).toEqual(["Model Training", "5 min 20 s", "79.6%"]);
  });

  it("draws a slice per period in the colour the funnel gives it", () => {
    const slices = [...svg.matchAll(/<path d="[^"]+" fill="(#\w+)"/g)].map(([, fill]) => fill);
    expect(slices).toEqual(FINISHED.map((period) => PERIOD_COLORS[period.phase]));
  });

  it("draws a period that is all the time so far as a whole disc", async () => {
    const one = timelineSvg(periodsOf({ "Job Create": 3 }), "pie");
    expect(one).toContain(
      `<circle cx="220" cy="240" r="160" fill="${PERIOD_COLORS["Job Create"]}"`,
    );
    expect(legendRow(one, "Job Create")).toEqual(["Job Create", "3.0 s", "100.0%"]);
    expect(await parses(one)).toBe(true);
  });

  it("is a well-formed SVG document", async () => {
    expect(await parses(svg)).toBe(true);
  });
});

describe("timelineSvg: any timeline", () => {
  it("marks the open period of a running job as running, in both charts", async () => {
    const running = periodsOf({ "Job Create": 2, "Model Training": 30 }, { running: true });
    const funnel = timelineSvg(running, "funnel");
    expect(texts(funnel)).toContain("30.0 s · running");
    expect(texts(funnel)).toContain("2.0 s");
    expect(funnel).toMatch(/fill="#9c755f" fill-opacity="0.55"[^>]*stroke-dasharray/);
    const pie = timelineSvg(running, "pie");
    expect(legendRow(pie, "Model Training")).toEqual([
      "Model Training",
      "30.0 s",
      "93.8%",
      "running",
    ]);
    expect(legendRow(pie, "Job Create")).toEqual(["Job Create", "2.0 s", "6.3%"]);
    for (const svg of [funnel, pie]) expect(await parses(svg)).toBe(true);
  });

  it("escapes the title and the period names", async () => {
    const title = `<script>alert("x")</script> & 'co'\u0007`;
    for (const chart of ["funnel", "pie"] as const) {
      const svg = timelineSvg(FINISHED, chart, { title });
      expect(svg).not.toContain("<script>");
      expect(svg).toContain("M&amp;D Transfer");
      expect(texts(svg)).toContain(`<script>alert("x")</script> & 'co'`);
      expect(await parses(svg)).toBe(true);
    }
  });

  it.each(["funnel", "pie"] as const)("says a %s with no periods has none yet", async (chart) => {
    for (const periods of [[], periodsOf({ "Job Create": 0 }, { running: true })]) {
      const svg = timelineSvg(periods, chart, { title: "job-2" });
      expect(texts(svg)[0]).toBe("job-2");
      expect(texts(svg)[1]).toMatch(/^No periods yet/);
      expect(svg).not.toMatch(/NaN|Infinity|undefined/);
      expect(await parses(svg)).toBe(true);
    }
  });

  it("shows a period whose length the API could not compute as unknown, not as NaN", async () => {
    const broken: TimelinePeriod[] = [
      ...periodsOf({ "Job Create": 2 }),
      {
        phase: "Env Gear up",
        startedAt: "not a date",
        endedAt: "2026-01-01T00:00:09.000Z",
        seconds: null as unknown as number,
      },
    ];
    for (const chart of ["funnel", "pie"] as const) {
      const svg = timelineSvg(broken, chart);
      expect(svg).not.toMatch(/NaN|Infinity/);
      expect(texts(svg)).toContain("?");
      expect(await parses(svg)).toBe(true);
    }
  });

  it("gives the same bytes for the same timeline", () => {
    expect(timelineSvg(FINISHED, "pie", { title: "t" })).toBe(
      timelineSvg(FINISHED, "pie", { title: "t" }),
    );
    expect(timelineSvg(FINISHED, "funnel")).toBe(timelineSvg(structuredClone(FINISHED), "funnel"));
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 s"],
    [0.042, "42 ms"],
    [1, "1.0 s"],
    [12.34, "12.3 s"],
    [65, "1 min 5 s"],
    [3599.6, "1 h 0 min"],
    [7325, "2 h 2 min"],
    [Number.NaN, "?"],
  ])("%s seconds read %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
