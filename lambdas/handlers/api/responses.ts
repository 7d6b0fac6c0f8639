import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ApiError } from "../../../sdk/api-types.ts";
import { fieldErrors } from "../../domain/field-errors.ts";
import { type BodyLimit, bodyTooLarge, LIMITS } from "../../domain/limits.ts";
import type { AccessFailure, Failure } from "../../use-cases/outcome.ts";

const STATUS: Record<(Failure | AccessFailure)["error"], ContentfulStatusCode> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  REFUSED: 409,
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  LOCKED: 429,
};

export const errorBody = (
  code: ApiError["error"]["code"],
  message: string,
  fields?: ApiError["error"]["fields"],
): ApiError => ({
  error: { code, message, ...(fields ? { fields } : {}) },
});

export const fieldsOf = (error: z.ZodError) => fieldErrors(error, "(body)");

/** A use case's refusal as the status it means; a lock says when to try again (`Retry-After`). */
export const fail = (failure: Failure | AccessFailure) =>
  Response.json(
    errorBody(failure.error, failure.message, "fields" in failure ? failure.fields : undefined),
    {
      status: STATUS[failure.error],
      ...("until" in failure
        ? { headers: { "retry-after": new Date(failure.until).toUTCString() } }
        : {}),
    },
  );

export const invalid = (message: string, fields: ApiError["error"]["fields"]) =>
  Response.json(errorBody("VALIDATION", message, fields), { status: 400 });

export const unauthorized = (message: string) =>
  Response.json(errorBody("UNAUTHORIZED", message), { status: 401 });

export const notFound = (message: string) => fail({ ok: false, error: "NOT_FOUND", message });

/**
 * A 413 for a body over its limit. The rest of the body is never read: the connection
 * closes after the answer, so a client still sending does not reuse it for its next request.
 */
export const tooLarge = (limit: BodyLimit) => {
  const { message, fields } = bodyTooLarge(limit);
  return Response.json(errorBody("TOO_LARGE", message, fields), {
    status: 413,
    headers: { connection: "close" },
  });
};

/** Ends the request with `response`, from wherever it is thrown (app.onError answers with it). */
export const refuseWith = (response: Response) =>
  new HTTPException(response.status as ContentfulStatusCode, { res: response });

/** How deep `text`'s arrays and objects nest, outside its strings. */
const nesting = (text: string): number => {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "[" || char === "{") deepest = Math.max(deepest, ++depth);
    else if (char === "]" || char === "}") depth--;
  }
  return deepest;
};

/**
 * The request's JSON body; a body that is not JSON, or nests deeper than any message does
 * (which would overflow the stack of whatever walks it next), ends the request with a 400.
 */
export const body = async (request: Request): Promise<unknown> => {
  const text = await request.text();
  const refuse = (message: string) =>
    refuseWith(invalid("invalid JSON", [{ field: "(body)", message }]));
  if (nesting(text) > LIMITS.jsonDepth)
    throw refuse(`nests deeper than ${LIMITS.jsonDepth} levels`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw refuse((error as Error).message);
  }
};

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235), if any. */
export const bearerToken = (request: Request): string | undefined =>
  /^bearer +(\S+) *$/i.exec(request.headers.get("authorization") ?? "")?.[1];

/** The answer to a path no route serves. */
export const noSuchRoute = () =>
  Response.json(errorBody("NOT_FOUND", "no such route"), { status: 404 });
