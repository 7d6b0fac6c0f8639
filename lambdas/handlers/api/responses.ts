import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ApiError } from "../../../sdk/api-types.ts";
import type { Failure } from "../../use-cases/outcome.ts";

const STATUS: Record<Failure["error"], ContentfulStatusCode> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  REFUSED: 409,
};

export const errorBody = (
  code: ApiError["error"]["code"],
  message: string,
  fields?: ApiError["error"]["fields"],
): ApiError => ({
  error: { code, message, ...(fields ? { fields } : {}) },
});

export const fieldsOf = (error: z.ZodError) =>
  error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));

/** A use case's refusal as the status it means. */
export const fail = (failure: Failure) =>
  Response.json(errorBody(failure.error, failure.message), { status: STATUS[failure.error] });

export const invalid = (message: string, fields: ApiError["error"]["fields"]) =>
  Response.json(errorBody("VALIDATION", message, fields), { status: 400 });

export const unauthorized = (message: string) =>
  Response.json(errorBody("UNAUTHORIZED", message), { status: 401 });

export const notFound = (message: string) => fail({ ok: false, error: "NOT_FOUND", message });

/** The request's JSON body, or undefined when it is not JSON. */
export const body = async (request: Request): Promise<unknown> =>
  request.json().catch(() => undefined);

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235), if any. */
export const bearerToken = (request: Request): string | undefined =>
  /^bearer +(\S+) *$/i.exec(request.headers.get("authorization") ?? "")?.[1];
