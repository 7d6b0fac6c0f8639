import { Resvg } from "@resvg/resvg-wasm";
import { describe, expect, it } from "vitest";
import type { TimelinePeriod } from "../../../lambdas/domain/timeline.ts";
import { svgToPng } from "../../../sdk/svg-png.ts";
import { PERIOD_COLORS, timelineSvg } from "../../../sdk/timeline-chart.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The image size from the PNG's header chunk, which must come first. */
const header = (png: Uint8Array) => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return {
    chunk: new TextDecoder().decode(png.subarray(12, 16)),
    width: view.getUint32(16),
    height: view.getUint32(20),
  };
};

/**
 * The PNG's pixels, decoded by resvg from the bytes alone (drawn 1:1 as an embedded image),
 * as the set of `#rrggbb` colours of its opaque pixels.
 */
const colours = (png: Uint8Array, width: number, height: number): Set<string> => {
  const href = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
  const frame = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><image href="${href}" width="${width}" height="${height}"/></svg>`;
  const { pixels } = new Resvg(frame).render();
  const found = new Set<string>();
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] !== 255) continue;
    const rgb = [pixels[i], pixels[i + 1], pixels[i + 2]];
    found.add(`#${rgb.map((c) => (c ?? 0).toString(16).padStart(2, "0")).join("")}`);
  }
  return found;
};

const periods: TimelinePeriod[] = [
  {
    phase: "Job Create",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:05.000Z",
    seconds: 5,
  },
  {
    phase: "Env Gear up",
    startedAt: "2026-01-01T00:00:05.000Z",
    endedAt: "2026-01-01T00:00:20.000Z",
    seconds: 15,
  },
  {
    phase: "Model Training",
    startedAt: "2026-01-01T00:00:20.000Z",
    endedAt: "2026-01-01T00:01:00.000Z",
    seconds: 40,
  },
];

describe("svgToPng", () => {
  it.each(["funnel", "pie"] as const)(
    "draws the %s chart as a PNG of its size, in the periods' colours",
    async (chart) => {
      const svg = timelineSvg(periods, chart, { title: "job-1 (train)" });
      const [, width, height] = svg.match(/width="(\d+)" height="(\d+)"/) ?? [];
      const png = await svgToPng(svg);
      expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
      expect(header(png)).toEqual({ chunk: "IHDR", width: Number(width), height: Number(height) });
      const seen = colours(png, Number(width), Number(height));
      expect(seen).toContain("#ffffff");
      for (const period of periods) expect(seen).toContain(PERIOD_COLORS[period.phase]);
      // Text is drawn, in the bundled font: dark anti-aliased glyphs, not boxes of one colour.
      expect([...seen].filter((colour) => colour < "#404040").length).toBeGreaterThan(5);
    },
  );

  it("refuses an SVG that is not well-formed XML, naming where", async () => {
    await expect(
      svgToPng(
        `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>M&D</text></svg>`,
      ),
    ).rejects.toThrow(/entity/);
  });
});
