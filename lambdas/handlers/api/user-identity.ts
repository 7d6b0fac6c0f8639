import type { LambdaEvent } from "hono/aws-lambda";
import { z } from "zod";
import { bearerToken } from "./responses.ts";

/** What the API's host hands each request: on Lambda, its event (from hono/aws-lambda); locally, nothing. */
export type ApiBindings = { event?: LambdaEvent };

/** The user a request comes from (the owner of the jobs it sees), or undefined when it names none. */
export type UserIdentity = (request: Request, bindings: ApiBindings) => string | undefined;

/** Locally: one static bearer token per user. */
export const staticTokenUsers =
  (users: Record<string, string>): UserIdentity =>
  (request) => {
    const token = bearerToken(request);
    return token && Object.hasOwn(users, token) ? users[token] : undefined;
  };

const JwtClaims = z.object({
  requestContext: z.object({
    authorizer: z.object({ jwt: z.object({ claims: z.object({ sub: z.string().min(1) }) }) }),
  }),
});

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

/**
 * On AWS: API Gateway's JWT authorizer has checked the token before the Lambda runs, and
 * the user is its `sub` claim. A request without one never passed that authorizer.
 */
export const jwtSubject: UserIdentity = (_request, { event }) => {
  const parsed = JwtClaims.safeParse(event);
  return parsed.success ? parsed.data.requestContext.authorizer.jwt.claims.sub : undefined;
};
