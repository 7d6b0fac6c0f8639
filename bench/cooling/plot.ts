import { writeFile } from "node:fs/promises";
import { svgToPng } from "../../sdk/svg-png.ts";
import { escapeXml } from "../../sdk/xml.ts";
import type { SimulationResult } from "./simulate.ts";

const WIDTH = 900;
const HEIGHT = 560;
const MARGIN = { left: 90, right: 30, top: 50, bottom: 70 };

/** Overhead cost against cold starts, one labelled point per policy, as an SVG. */
export const costVsColdStartsSvg = (
  results: readonly SimulationResult[],
  title: string,
): string => {
  const maxX = Math.max(...results.map((result) => result.starts.cold)) * 1.1 || 1;
  const maxY = Math.max(...results.map((result) => result.overheadCost)) * 1.1 || 1;
  const x = (value: number) => MARGIN.left + (value / maxX) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (value: number) =>
    HEIGHT - MARGIN.bottom - (value / maxY) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  // Policies that land on the same point share one label.
  const spots = new Map<string, { cold: number; cost: number; names: string[] }>();
  for (const result of results) {
    const key = `${result.starts.cold}:${result.overheadCost.toFixed(2)}`;
    const spot = spots.get(key) ?? {
      cold: result.starts.cold,
      cost: result.overheadCost,
      names: [],
    };
    spot.names.push(result.policy);
    spots.set(key, spot);
  }
  const points = [...spots.values()].map((spot, i) => {
    const cx = x(spot.cold);
    const cy = y(spot.cost);
    const name = spot.names.join(" = ");
    const color = name.startsWith("oracle")
      ? "#d62728"
      : name.includes("adaptive")
        ? "#2ca02c"
        : "#1f77b4";
    const right = cx > WIDTH * 0.6;
    const label = `x="${right ? cx - 8 : cx + 8}" y="${cy + (i % 2 === 0 ? -8 : 16)}" text-anchor="${right ? "end" : "start"}"`;
    return `<circle cx="${cx}" cy="${cy}" r="5" fill="${color}"/><text ${label} font-size="12">${escapeXml(name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans">
<rect width="100%" height="100%" fill="white"/>
<text x="${WIDTH / 2}" y="28" font-size="16" text-anchor="middle">${escapeXml(title)}</text>
<line x1="${MARGIN.left}" y1="${HEIGHT - MARGIN.bottom}" x2="${WIDTH - MARGIN.right}" y2="${HEIGHT - MARGIN.bottom}" stroke="black"/>
<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${HEIGHT - MARGIN.bottom}" stroke="black"/>
${ticks
  .map(
    (t) =>
      `<text x="${x(t * maxX)}" y="${HEIGHT - MARGIN.bottom + 18}" font-size="11" text-anchor="middle">${Math.round(t * maxX)}</text>` +
      `<text x="${MARGIN.left - 8}" y="${y(t * maxY) + 4}" font-size="11" text-anchor="end">$${(t * maxY).toFixed(0)}</text>`,
  )
  .join("\n")}
<text x="${WIDTH / 2}" y="${HEIGHT - 20}" font-size="13" text-anchor="middle">cold starts</text>
<text x="20" y="${HEIGHT / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 20 ${HEIGHT / 2})">overhead cost ($)</text>
${points.join("\n")}
</svg>`;
};

/** Renders the chart to a PNG file. */
export const drawCostVsColdStarts = async (
  path: string,
  results: readonly SimulationResult[],
  title: string,
) => {
  await writeFile(path, await svgToPng(costVsColdStartsSvg(results, title)));
};
