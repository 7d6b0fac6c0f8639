import type { Conflict } from "../ports.ts";

/** Why a use case did nothing: each maps to one HTTP status (404, 409 or 422). */
export type Failure =
  | { ok: false; error: "NOT_FOUND"; message: string }
  | { ok: false; error: "CONFLICT"; conflict: Conflict; message: string }
  | { ok: false; error: "REFUSED"; message: string };

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
