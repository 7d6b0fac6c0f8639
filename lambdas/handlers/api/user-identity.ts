import type { MiddlewareHandler } from "hono";
import type { LambdaEvent } from "hono/aws-lambda";
import { z } from "zod";
import type { Caller } from "../../domain/identity.ts";
import { authenticate } from "../../use-cases/access-tokens.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import type { AccessFailure } from "../../use-cases/outcome.ts";
import { bearerToken, fail } from "./responses.ts";

/** What the API's host hands each request: on Lambda, its event (from hono/aws-lambda); locally, nothing. */
export type ApiBindings = { event?: LambdaEvent };

/** What the user routes see: the caller their access token names. */
export type UserEnv = { Bindings: ApiBindings; Variables: { caller: Caller } };

/** The user a request comes from, or why it is not let in. */
export type UserIdentity = (
  request: Request,
  bindings: ApiBindings,
) => Promise<{ ok: true; caller: Caller } | AccessFailure>;

// One answer for a missing, unknown, expired or revoked token and a removed user's, as
// docs/security.md promises: the API does not help anyone sort tokens by what became of them.
const NOT_SIGNED_IN =
  "a valid access token is required (Authorization: Bearer gpuctl_...): sign in or make a new token";

/** The caller whose personal access token the request bears, by the identity store. */
export const bearerCaller =
  (cp: Ports<"users" | "clock">): UserIdentity =>
  async (request) => {
    const token = bearerToken(request);
    const known = token === undefined ? undefined : await authenticate(cp, token);
    if (known?.ok) return known;
    return {
      ok: false,
      error: "UNAUTHORIZED",
      reason: known?.error === "UNAUTHORIZED" ? known.reason : "UNKNOWN",
      message: NOT_SIGNED_IN,
    };
  };

/** Lets in only requests `identity` names a caller for, and hands the routes that caller. */
export const requireCaller =
  (identity: UserIdentity): MiddlewareHandler<UserEnv> =>
  async (c, next) => {
    const known = await identity(c.req.raw, c.env ?? {});
    if (!known.ok) return fail(known);
    c.set("caller", known.caller);
    await next();
  };

const IamCaller = z.object({
  requestContext: z.object({
    authorizer: z.object({ iam: z.object({ userArn: z.string().min(1) }) }),
  }),
});

/** On AWS: the caller API Gateway's IAM authorizer checked (an agent's instance-role session). */
export const iamUserArn = (event: ApiBindings["event"]): string | undefined => {
  const parsed = IamCaller.safeParse(event);
  return parsed.success ? parsed.data.requestContext.authorizer.iam.userArn : undefined;
};
