import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { routeOf } from "../../../sdk/contract/routes.ts";
import { fieldsOf, invalid } from "./responses.ts";

const NO_QUERY = z.strictObject({});

/**
 * Holds each request to its route's entry in the contract (sdk/contract/routes.ts): its path
 * parameters, query and headers, and no body where the route takes none. Each route's
 * handler then parses the body it takes with the contract's schema for it. A path no route
 * serves passes on, to be answered as such.
 */
export const checkRequest: MiddlewareHandler = async (c, next) => {
  const found = routeOf(c.req.method, new URL(c.req.url).pathname);
  if (!found) return next();
  const { route } = found;
  const params = Object.fromEntries(
    Object.entries(found.params).map(([name, value]) => [name, decodeURIComponent(value ?? "")]),
  );
  const named = Object.keys(route.headers?.shape ?? {}).flatMap((name) => {
    const value = c.req.header(name);
    return value === undefined ? [] : [[name, value]];
  });
  const parts = [
    [route.params, params],
    [route.query ?? NO_QUERY, c.req.query()],
    [route.headers, Object.fromEntries(named)],
  ] as const;
  const fields = parts.flatMap(([schema, value]) => {
    const parsed = schema?.safeParse(value);
    return parsed && !parsed.success ? fieldsOf(parsed.error) : [];
  });
  if (fields.length) return invalid("bad request", fields);
  if (!route.body && !route.upload && (await c.req.raw.text()).length)
    return invalid("bad request", [{ field: "(body)", message: "this route takes no body" }]);
  await next();
};
