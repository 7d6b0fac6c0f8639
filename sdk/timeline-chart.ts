/**
 * A job's timeline as a picture, AIbro's `plot_timeline`: a funnel (one bar per period, in the
 * job's order, offset by its start) or a pie (each period's share, with a legend). Pure string
 * building, no Node API and no DOM, so the CLI and the web console draw the same SVG; the same
 * input always gives the same bytes.
 */
import type { TimelinePhase } from "../lambdas/domain/timeline.ts";
import type { TimelineView } from "./api-types.ts";
import { escapeXml } from "./xml.ts";

/** A period as the API answers it; the domain's periods (lambdas/domain/timeline.ts) are too. */
type TimelinePeriod = TimelineView["periods"][number];

export const TIMELINE_CHARTS = ["funnel", "pie"] as const;
export type TimelineChart = (typeof TIMELINE_CHARTS)[number];

/** One colour per period, the same in both charts, told apart also by people with weak red/green sight. */
export const PERIOD_COLORS: Record<TimelinePhase, string> = {
  "Job Create": "#4e79a7",
  "Request Launch": "#f28e2b",
  "Instance Connect": "#e15759",
  "API Transfer & Server Setup": "#76b7b2",
  "M&D Serialization": "#59a14f",
  "Env Gear up": "#edc948",
  "M&D Transfer": "#b07aa1",
  "M&D Deserialization": "#ff9da7",
  "Model Training": "#9c755f",
  "Result Serialization": "#17becf",
  "Result Transfer": "#3b3b98",
};

const FONT = "DejaVu Sans, Verdana, sans-serif";
const TOP = 70;
const FUNNEL = { width: 900, label: 220, barsFrom: 230, barsTo: 730, row: 30, bar: 20 };
const PIE = { width: 940, cx: 220, radius: 160, legendX: 430, legendRow: 26 };
const RUNNING_STYLE = `fill-opacity="0.55" stroke="#333333" stroke-width="1.5" stroke-dasharray="4 3"`;

/** Coordinates with one decimal: short, and identical across platforms. */
const at = (value: number): string => String(Math.round(value * 10) / 10);

/** A period's measured seconds; a length the API could not compute (JSON `null`) counts as none. */
const secondsOf = (period: TimelinePeriod): number =>
  Number.isFinite(period.seconds) && period.seconds > 0 ? period.seconds : 0;

/** `42 ms`, `12.3 s`, `4 min 5 s`, `2 h 7 min`: a length a person reads without arithmetic. */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds === 0) return "0 s";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
};

const isRunning = (period: TimelinePeriod): boolean => period.endedAt === undefined;

const text = (x: number, y: number, content: string, attributes = ""): string =>
  `<text x="${at(x)}" y="${at(y)}"${attributes ? ` ${attributes}` : ""}>${escapeXml(content)}</text>`;

const svg = (width: number, height: number, title: string, body: string[]): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="13" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(width / 2, 30, title, `font-size="18" font-weight="bold" text-anchor="middle"`),
    ...body,
    "</svg>",
    "",
  ].join("\n");

const subtitle = (width: number, periods: TimelinePeriod[], total: number): string => {
  const running = periods.some(isRunning) ? " · running" : "";
  return text(
    width / 2,
    52,
    `${periods.length} period${periods.length === 1 ? "" : "s"}, ${formatDuration(total)} in all${running}`,
    `fill="#555555" text-anchor="middle"`,
  );
};

/** A picture that says there is nothing to draw yet, rather than an empty or broken one. */
const placeholder = (title: string, message: string): string =>
  svg(FUNNEL.width, 160, title, [
    text(FUNNEL.width / 2, 100, message, `font-size="16" fill="#555555" text-anchor="middle"`),
  ]);

/** A round step for the time axis, about five ticks over `extent` seconds. */
const tickStep = (extent: number): number => {
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((candidate) => extent / candidate <= 6);
  return step ?? Math.ceil(extent / 6 / 3600) * 3600;
};

const tickLabel = (seconds: number): string => {
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 3600) return `${Math.round((seconds / 60) * 10) / 10} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
};

/**
 * Each period's offset from the job's first start, in seconds. Periods tile the job's life,
 * so one whose start does not parse begins where the one before it ended.
 */
const offsets = (periods: TimelinePeriod[]): number[] => {
  const first = Date.parse(periods[0]?.startedAt ?? "");
  let previousEnd = 0;
  return periods.map((period) => {
    const started = (Date.parse(period.startedAt) - first) / 1000;
    const offset = Number.isFinite(started) && started >= 0 ? started : previousEnd;
    previousEnd = offset + secondsOf(period);
    return offset;
  });
};

const funnelSvg = (periods: TimelinePeriod[], title: string, total: number): string => {
  const starts = offsets(periods);
  const extent = Math.max(...periods.map((period, i) => (starts[i] ?? 0) + secondsOf(period)));
  const span = FUNNEL.barsTo - FUNNEL.barsFrom;
  const x = (seconds: number) => FUNNEL.barsFrom + (seconds / extent) * span;
  const axisY = TOP + periods.length * FUNNEL.row + 6;
  const step = tickStep(extent);
  const ticks = Array.from({ length: Math.floor(extent / step + 1e-9) + 1 }, (_, i) => i * step);
  const grid = ticks.map(
    (tick) =>
      `<line x1="${at(x(tick))}" y1="${TOP - 6}" x2="${at(x(tick))}" y2="${axisY}" stroke="#e5e5e5"/>` +
      text(
        x(tick),
        axisY + 18,
        tickLabel(tick),
        `font-size="11" fill="#555555" text-anchor="middle"`,
      ),
  );
  const bars = periods.map((period, i) => {
    const y = TOP + i * FUNNEL.row;
    const left = x(starts[i] ?? 0);
    const width = Math.max((secondsOf(period) / extent) * span, 2);
    const running = isRunning(period);
    const duration = `${formatDuration(period.seconds)}${running ? " · running" : ""}`;
    return [
      `<g>`,
      `<title>${escapeXml(`${period.phase}: ${duration}`)}</title>`,
      text(FUNNEL.label, y + 15, period.phase, `text-anchor="end"`),
      `<rect x="${at(left)}" y="${y}" width="${at(width)}" height="${FUNNEL.bar}" rx="2" fill="${PERIOD_COLORS[period.phase]}"${running ? ` ${RUNNING_STYLE}` : ""}/>`,
      text(left + width + 6, y + 15, duration, `fill="#333333"`),
      `</g>`,
    ].join("");
  });
  const axis = `<line x1="${FUNNEL.barsFrom}" y1="${axisY}" x2="${FUNNEL.barsTo}" y2="${axisY}" stroke="#999999"/>`;
  return svg(FUNNEL.width, axisY + 32, title, [
    subtitle(FUNNEL.width, periods, total),
    ...grid,
    axis,
    ...bars,
  ]);
};

/** The point on the pie's rim at `fraction` of a turn, clockwise from twelve o'clock. */
const rim = (fraction: number, cy: number): string => {
  const angle = 2 * Math.PI * fraction - Math.PI / 2;
  return `${at(PIE.cx + PIE.radius * Math.cos(angle))} ${at(cy + PIE.radius * Math.sin(angle))}`;
};

const pieSvg = (periods: TimelinePeriod[], title: string, total: number): string => {
  const cy = TOP + 10 + PIE.radius;
  const legendTop = TOP + 20;
  const height = Math.max(cy + PIE.radius + 30, legendTop + periods.length * PIE.legendRow + 20);
  let turned = 0;
  const slices = periods.flatMap((period) => {
    const share = secondsOf(period) / total;
    const from = turned;
    turned += share;
    if (share === 0) return [];
    const paint = `fill="${PERIOD_COLORS[period.phase]}"${isRunning(period) ? ` ${RUNNING_STYLE}` : ` stroke="#ffffff" stroke-width="1.5"`}`;
    const tip = `<title>${escapeXml(`${period.phase}: ${formatDuration(period.seconds)}`)}</title>`;
    // One arc cannot draw a whole turn: a period that is all the time so far is a disc.
    if (share > 0.9999)
      return [`<circle cx="${PIE.cx}" cy="${cy}" r="${PIE.radius}" ${paint}>${tip}</circle>`];
    const large = share > 0.5 ? 1 : 0;
    return [
      `<path d="M ${PIE.cx} ${cy} L ${rim(from, cy)} A ${PIE.radius} ${PIE.radius} 0 ${large} 1 ${rim(turned, cy)} Z" ${paint}>${tip}</path>`,
    ];
  });
  const legend = periods.map((period, i) => {
    const y = legendTop + i * PIE.legendRow;
    const percent = `${((secondsOf(period) / total) * 100).toFixed(1)}%`;
    return [
      `<rect x="${PIE.legendX}" y="${y}" width="14" height="14" fill="${PERIOD_COLORS[period.phase]}"${isRunning(period) ? ` ${RUNNING_STYLE}` : ""}/>`,
      text(PIE.legendX + 22, y + 12, period.phase),
      text(PIE.legendX + 340, y + 12, formatDuration(period.seconds), `text-anchor="end"`),
      text(PIE.legendX + 410, y + 12, percent, `text-anchor="end"`),
      isRunning(period) ? text(PIE.legendX + 420, y + 12, "running", `font-style="italic"`) : "",
    ].join("");
  });
  return svg(PIE.width, height, title, [subtitle(PIE.width, periods, total), ...slices, ...legend]);
};

/**
 * The SVG picture of a job's timeline periods (as `GET /v1/jobs/{id}/timeline` returns
 * them): `funnel` or `pie`. A period still open is drawn dashed and marked running.
 */
export const timelineSvg = (
  periods: TimelinePeriod[],
  chart: TimelineChart,
  options: { title?: string } = {},
): string => {
  const title = options.title ?? "Job timeline";
  if (periods.length === 0) return placeholder(title, "No periods yet");
  const total = periods.reduce((sum, period) => sum + secondsOf(period), 0);
  if (total === 0) return placeholder(title, "No periods yet: no time measured");
  return chart === "pie" ? pieSvg(periods, title, total) : funnelSvg(periods, title, total);
};
