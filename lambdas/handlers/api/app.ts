import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { InvalidCursorError, UnreadableJobError } from "../../ports.ts";
import type { ControlPlane } from "../../use-cases/control-plane.ts";
import { agentRoutes } from "./agent-routes.ts";
import type { LocalArtifactStore } from "./local-artifact-routes.ts";
import { checkPath, limitBody } from "./request-limits.ts";
import { errorBody, invalid } from "./responses.ts";
import { userRoutes } from "./user-routes.ts";

export interface ApiOptions {
  /** Bearer token users present; one user per token here (the owner of their jobs). */
  users: Record<string, string>;
  /** Serves the artifact URLs (agents' and users') when artifacts live in a local folder. */
  localArtifacts?: LocalArtifactStore;
}

/**
 * The control plane's HTTP API, one router per audience: users under /v1, instance agents
 * under /agent/v1, and (locally) the artifact URLs agents fetch and upload through. Every
 * path and body is bounded before a route reads it (request-limits.ts); each route
 * validates its input, makes one use-case call, and maps the outcome to a status.
 */
export const createApi = (cp: ControlPlane, options: ApiOptions) => {
  const app = new Hono();
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
  app.notFound(() => Response.json(errorBody("NOT_FOUND", "no such route"), { status: 404 }));
  app.use("*", checkPath, limitBody);
  app.route("/v1", userRoutes(cp, options.users, options.localArtifacts));
  app.route("/agent/v1", agentRoutes(cp, options.localArtifacts));
  return app;
};
