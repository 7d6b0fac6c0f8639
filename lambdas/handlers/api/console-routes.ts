import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { errorBody } from "./responses.ts";

/** The console's files (scripts/build-console.ts writes them): all it is made of. */
export const CONSOLE_PAGE = "index.html";
export const CONSOLE_SCRIPT = "console.js";
const CONSOLE_STYLES = "console.css";

const TYPES = {
  [CONSOLE_PAGE]: "text/html; charset=utf-8",
  [CONSOLE_SCRIPT]: "text/javascript; charset=utf-8",
  [CONSOLE_STYLES]: "text/css; charset=utf-8",
} as const;
type ConsoleFile = keyof typeof TYPES;

/**
 * What the console's page may load: its own script and stylesheet, and the API on its own
 * origin (its charts are SVG elements it builds). No inline script, handler or style, no
 * plugin, no other site, and no page may frame it (clickjacking).
 */
export const CONSOLE_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export interface ConsoleOptions {
  /** The folder of the console's built files; without it the API serves no console. */
  consoleAssets?: string;
}

/** Each path the console is served at, and the file it is. */
const CONSOLE_PATHS: Record<string, ConsoleFile> = {
  "/console": CONSOLE_PAGE,
  "/console/": CONSOLE_PAGE,
  [`/console/${CONSOLE_SCRIPT}`]: CONSOLE_SCRIPT,
  [`/console/${CONSOLE_STYLES}`]: CONSOLE_STYLES,
};

/**
 * The web console under `/console`: its page and its two assets, served to anyone (they
 * hold no data: every datum comes from the API, by the signed-in user's token). Each is a
 * route of its own, so no other request path reaches the file system. Each answer
 * carries a strict policy and is revalidated, so a new deployment shows at once.
 */
export const consoleRoutes = (assetsDir: string) => {
  const router = new Hono();
  const headers = secureHeaders({
    contentSecurityPolicy: CONSOLE_POLICY,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    xContentTypeOptions: "nosniff",
  });
  const serve = async (file: ConsoleFile) => {
    let contents: Buffer;
    try {
      contents = await readFile(join(assetsDir, file));
    } catch {
      const message = `the console is not built here (${file} missing): run \`npm run build:console\``;
      return Response.json(errorBody("INTERNAL", message), { status: 503 });
    }
    return new Response(new Uint8Array(contents), {
      headers: { "content-type": TYPES[file], "cache-control": "no-cache" },
    });
  };
  for (const [path, file] of Object.entries(CONSOLE_PATHS)) {
    router.use(path, headers);
    router.get(path, () => serve(file));
  }
  return router;
};
