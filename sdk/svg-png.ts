/**
 * SVG to PNG in Node, with resvg's WebAssembly build and the DejaVu Sans font from npm: no
 * native module and no system font, so every machine draws the same pixels.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { initWasm, Resvg } from "@resvg/resvg-wasm";

const require = createRequire(import.meta.url);
const PNG_FONT_FAMILY = "DejaVu Sans";

let loading: Promise<Uint8Array> | undefined;

/** The WebAssembly module can be initialised once per process; the font is read once. */
const ready = (): Promise<Uint8Array> => {
  loading ??= (async () => {
    await initWasm(readFile(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    return readFile(require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf"));
  })().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
};

/** The PNG bytes of an SVG document, drawn at its own size. */
export const svgToPng = async (svg: string): Promise<Uint8Array> => {
  const font = await ready();
  const resvg = new Resvg(svg, {
    font: { fontBuffers: [font], defaultFontFamily: PNG_FONT_FAMILY },
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
};
