import type { MiddlewareHandler } from "hono";
import { routeOf } from "../../../sdk/contract/routes.ts";
import { type BodyLimit, LIMITS } from "../../domain/limits.ts";
import { invalid, refuseWith, tooLarge } from "./responses.ts";

const badPath = (message: string) => invalid("bad path", [{ field: "path", message }]);

/**
 * Every route's path decodes and is bounded, so no handler meets a malformed `%` escape
 * and no id reaches a store key longer than the store takes.
 */
export const checkPath: MiddlewareHandler = async (c, next) => {
  const path = new URL(c.req.url).pathname;
  let segments: string[];
  try {
    segments = path.split("/").map(decodeURIComponent);
  } catch {
    return badPath("has a malformed percent escape (a % must start one such as %20)");
  }
  const long = segments.find((segment) => segment.length > LIMITS.pathSegmentChars);
  if (long !== undefined)
    return badPath(
      `a segment is ${long.length} characters; at most ${LIMITS.pathSegmentChars} (ids included)`,
    );
  if (path.length > LIMITS.pathChars)
    return badPath(`is ${path.length} characters; at most ${LIMITS.pathChars}`);
  await next();
};

/** Uploads have their own limits (the contract names them); every other body is JSON. */
const limitOf = (method: string, path: string): BodyLimit =>
  routeOf(method, path)?.route.upload ?? "jsonBodyBytes";

/**
 * Refuses a body over its route's limit with a 413 as it is read: at once when its
 * Content-Length says so, else at the chunk that crosses the limit. Nothing is buffered
 * here (Hono's bodyLimit buffers a chunked body up to the limit), so uploads can stream
 * to disk.
 */
export const limitBody: MiddlewareHandler = async (c, next) => {
  const { body } = c.req.raw;
  if (!body) return next();
  const limit = limitOf(c.req.method, c.req.path);
  const maxBytes = LIMITS[limit];
  if (Number(c.req.header("content-length")) > maxBytes) return tooLarge(limit);
  let seen = 0;
  const counted = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(refuseWith(tooLarge(limit)));
        else controller.enqueue(chunk);
      },
    }),
  );
  c.req.raw = new Request(c.req.raw, { body: counted, duplex: "half" } as RequestInit);
  await next();
};
