import type { TokenRefusal } from "../domain/identity.ts";
import type { SpecError } from "../domain/job-spec.ts";
import type { Conflict } from "../ports.ts";

/** Why a use case did nothing: each maps to one HTTP status (400, 404 or 409). */
export type Failure =
  | { ok: false; error: "NOT_FOUND"; message: string }
  | { ok: false; error: "CONFLICT"; conflict: Conflict; message: string }
  | { ok: false; error: "REFUSED"; message: string }
  | { ok: false; error: "VALIDATION"; message: string; fields: SpecError[] };

export const notFound = (what: string): Failure => ({
  ok: false,
  error: "NOT_FOUND",
  message: `${what} not found`,
});
export const refused = (message: string): Failure => ({ ok: false, error: "REFUSED", message });
export const conflict = (written: { conflict: Conflict; message: string }): Failure => ({
  ok: false,
  error: "CONFLICT",
  conflict: written.conflict,
  message: written.message,
});
export const invalidInput = (message: string, fields: SpecError[]): Failure => ({
  ok: false,
  error: "VALIDATION",
  message,
  fields,
});

/** Why a caller is not let in (401), or not let do it (403), or must wait (429). */
export type AccessFailure =
  | { ok: false; error: "UNAUTHORIZED"; reason: TokenRefusal | "BAD_CREDENTIALS"; message: string }
  | { ok: false; error: "FORBIDDEN"; message: string }
  | { ok: false; error: "LOCKED"; message: string; until: string };

export const forbidden = (message: string): AccessFailure => ({
  ok: false,
  error: "FORBIDDEN",
  message,
});
