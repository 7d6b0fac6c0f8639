import type { MiddlewareHandler } from "hono";
import { noSuchRoute } from "./responses.ts";
import type { ApiBindings } from "./user-identity.ts";

export const SIGN_IN_PATH = "/v1/login";
/** API Gateway's route for signing in, throttled far below the others (lib/constructs/api.ts). */
export const SIGN_IN_ROUTE = `POST ${SIGN_IN_PATH}`;

/**
 * On API Gateway, a sign-in must come by its own route, the throttled one: a path that only
 * normalizes to it (`/v1/./login`, `/v1/%6cogin`) matched `/v1/{proxy+}` and its higher
 * limits, and answers as no such route. Locally there is no gateway and no such event.
 */
export const onlyBySignInRoute: MiddlewareHandler<{ Bindings: ApiBindings }> = async (c, next) => {
  const routeKey = c.env?.event && "routeKey" in c.env.event ? c.env.event.routeKey : undefined;
  if (routeKey !== undefined && routeKey !== SIGN_IN_ROUTE) return noSuchRoute();
  await next();
};
