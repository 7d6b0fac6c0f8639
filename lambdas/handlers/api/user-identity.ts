import type { MiddlewareHandler } from "hono";
import type { LambdaEvent } from "hono/aws-lambda";
import { z } from "zod";
import type { Caller } from "../../domain/identity.ts";
import { authenticate } from "../../use-cases/access-tokens.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import { bearerToken, fail } from "./responses.ts";

/** What the API's host hands each request: on Lambda, its event (from hono/aws-lambda); locally, nothing. */
export type ApiBindings = { event?: LambdaEvent };

/** What the user routes see: the caller their access token names. */
export type UserEnv = { Bindings: ApiBindings; Variables: { caller: Caller } };

/** Lets in only requests bearing a valid access token, and hands the routes its caller. */
export const requireCaller =
  (cp: Ports<"users" | "clock">): MiddlewareHandler<UserEnv> =>
  async (c, next) => {
    const known = await authenticate(cp, bearerToken(c.req.raw));
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
