import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { InvalidCursorError, UnreadableJobError } from "../../ports.ts";
import { bothNeeds, type PortsOf } from "../../use-cases/control-plane.ts";
import { ACCOUNT_ROUTES_NEEDS, accountRoutes, signInRoutes } from "./account-routes.ts";
import { AGENT_ROUTES_NEEDS, type AgentRouteOptions, agentRoutes } from "./agent-routes.ts";
import { type ConsoleOptions, consoleRoutes } from "./console-routes.ts";
import { openApiDocument } from "./openapi-document.ts";
import { checkRequest } from "./request-contract.ts";
import { checkPath, limitBody } from "./request-limits.ts";
import { errorBody, invalid, noSuchRoute } from "./responses.ts";
import { onlyBySignInRoute, SIGN_IN_PATH } from "./sign-in-route.ts";
import { requireCaller, type UserEnv } from "./user-identity.ts";
import { USER_ROUTES_NEEDS, userRoutes } from "./user-routes.ts";

/** Users are always the access token's user in the identity store, on every host. */
export type ApiOptions = AgentRouteOptions & ConsoleOptions;

/**
 * The control plane's HTTP API, one router per audience: users under /v1, instance agents
 * under /agent/v1, and (locally) the artifact URLs agents fetch and upload through; and the
 * OpenAPI document of them all. Every path and body is bounded before a route reads it
 * (request-limits.ts), and its path, query and headers held to the route's contract
 * (request-contract.ts); each route parses its body with the contract's schema, makes one
 * use-case call, and maps the outcome to a status.
 */
export const API_NEEDS = bothNeeds(
  bothNeeds(USER_ROUTES_NEEDS, ACCOUNT_ROUTES_NEEDS),
  AGENT_ROUTES_NEEDS,
);

export const createApi = (cp: PortsOf<typeof API_NEEDS>, options: ApiOptions) => {
  const app = new Hono<UserEnv>();
  app.onError((error) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof UnreadableJobError) {
      const message = `${error.message}: written by a newer version, or damaged`;
      return Response.json(errorBody("INTERNAL", message), { status: 500 });
    }
    if (error instanceof InvalidCursorError)
      return invalid(error.message, [{ field: "cursor", message: error.message }]);
    console.error(error);
    return Response.json(errorBody("INTERNAL", "internal error"), { status: 500 });
  });
  app.notFound(noSuchRoute);
  app.use("*", checkPath, limitBody, checkRequest);
  // It describes the routes and holds no data: anyone may read it.
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.use(SIGN_IN_PATH, onlyBySignInRoute);
  // Signing in is the one user route without a token: it is registered before the check.
  app.route("/v1", signInRoutes(cp));
  app.use("/v1/*", requireCaller(cp));
  app.route("/v1", accountRoutes(cp));
  app.route("/v1", userRoutes(cp, options.localArtifacts));
  app.route("/agent/v1", agentRoutes(cp, options));
  if (options.consoleAssets) app.route("/", consoleRoutes(options.consoleAssets));
  return app;
};
