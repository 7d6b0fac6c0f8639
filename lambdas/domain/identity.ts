/**
 * Who may do what, and the rules of the credentials that say who a caller is: roles, email
 * addresses, passwords, personal access tokens and the failed-login lock. Pure: password
 * hashing and randomness come from outside (docs/security.md).
 */
import { createHash } from "node:crypto";
import type { SpecError } from "./job-spec.ts";

export const ROLES = ["user", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role =>
  typeof value === "string" && (ROLES as readonly string[]).includes(value);

/** The user a request comes from, once a token says so. */
export interface Caller {
  userId: string;
  email: string;
  role: Role;
}

/**
 * What a caller asks to do. `job.access` covers what is done to one's own job alone (read,
 * list, replay, download); `job.stop` cancels or completes a job, its owner's or, for an
 * admin, another user's runaway job, without reading its outputs; `job.review` is
 * the cost-review gate's approve or reject, and `reviews.list` the queue of jobs waiting
 * at it; `instances.all` sees instances serving other users' jobs.
 */
export type Action =
  | "job.access"
  | "job.stop"
  | "job.review"
  | "reviews.list"
  | "instances.all"
  | "users.manage";

/**
 * Whether `caller` may do `action` on a resource owned by `owner` (the user id of a job's
 * submitter; ignored by actions on no one's resource). A reviewer reviews other users'
 * jobs only: a gate its own owner could open would be no gate.
 */
export const may = (caller: Caller, action: Action, owner?: string): boolean => {
  switch (action) {
    case "job.access":
      return owner !== undefined && caller.userId === owner;
    case "job.stop":
      return may(caller, "job.access", owner) || (owner !== undefined && caller.role === "admin");
    case "job.review":
      return may(caller, "reviews.list") && owner !== undefined && caller.userId !== owner;
    case "reviews.list":
      return caller.role !== "user";
    case "instances.all":
    case "users.manage":
      return caller.role === "admin";
  }
};

export type FieldResult<T> = { ok: true; value: T } | { ok: false; errors: SpecError[] };

export const EMAIL_MAX = 254;
// One `@`, no white space, a dot in the domain: what a mail server would even try. The
// address is only ever a sign-in name, so nothing stricter earns its false refusals.
export const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The address as stored and compared: trimmed and lower-cased, so `Ada@X.org ` is `ada@x.org`. */
export const normalizeEmail = (value: unknown): FieldResult<string> => {
  if (typeof value !== "string")
    return { ok: false, errors: [{ field: "email", message: "must be a string" }] };
  const email = value.trim().toLowerCase();
  if (email.length > EMAIL_MAX)
    return { ok: false, errors: [{ field: "email", message: `at most ${EMAIL_MAX} characters` }] };
  // A Cyrillic `а` looks like a Latin `a`: an address a reader cannot tell from another's is
  // refused, and an international domain is written as the DNS carries it.
  if (!/^[\x20-\x7e]*$/.test(email))
    return {
      ok: false,
      errors: [
        {
          field: "email",
          message: "must be ASCII: write an international domain in punycode (xn--...)",
        },
      ],
    };
  if (!EMAIL_SHAPE.test(email))
    return {
      ok: false,
      errors: [{ field: "email", message: "must be an address such as ada@example.org" }],
    };
  return { ok: true, value: email };
};

export const PASSWORD_MIN = 12;
/** A bound on what is hashed: scrypt's cost grows with it, and no one types more. */
export const PASSWORD_MAX = 1024;

export const validatePassword = (value: unknown): FieldResult<string> => {
  if (typeof value !== "string")
    return { ok: false, errors: [{ field: "password", message: "must be a string" }] };
  if (value.length < PASSWORD_MIN)
    return {
      ok: false,
      errors: [{ field: "password", message: `at least ${PASSWORD_MIN} characters` }],
    };
  if (value.length > PASSWORD_MAX)
    return {
      ok: false,
      errors: [{ field: "password", message: `at most ${PASSWORD_MAX} characters` }],
    };
  return { ok: true, value };
};

export const TOKEN_PREFIX = "gpuctl_";
/** Bytes of randomness in a token: 256 bits, so guessing one is hopeless. */
export const TOKEN_BYTES = 32;
/** Characters of the random part that name a token in listings: recognisable, not usable. */
const TOKEN_ID_LENGTH = 8;
const TOKEN_SHAPE = new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);

/** A new token: shown once to its user; only `hash` is stored, and `tokenId` names it. */
export interface MintedToken {
  token: string;
  tokenId: string;
  hash: string;
}

/** A token made of `random` (TOKEN_BYTES bytes from a secure source). */
export const mintToken = (random: Uint8Array): MintedToken => {
  if (random.length !== TOKEN_BYTES) throw new Error(`a token takes ${TOKEN_BYTES} random bytes`);
  const secret = Buffer.from(random).toString("base64url");
  const token = `${TOKEN_PREFIX}${secret}`;
  return { token, tokenId: secret.slice(0, TOKEN_ID_LENGTH), hash: tokenHash(token) };
};

/** Whether `value` has a token's shape; anything else is refused before any lookup. */
export const isTokenShaped = (value: string): boolean => TOKEN_SHAPE.test(value);

/**
 * What a token is stored and looked up by. A plain SHA-256 suffices where a password needs
 * scrypt: the token is 256 random bits, so no guess list reaches it from its hash.
 */
export const tokenHash = (token: string): string =>
  createHash("sha256").update(token).digest("hex");

export const TOKEN_LIFETIME = { defaultDays: 90, maxDays: 365 } as const;
const DAY_MS = 86_400_000;

/** When a token made at `now` expires, given the days asked for (TOKEN_LIFETIME's default when none). */
export const tokenExpiry = (now: string, days?: unknown): FieldResult<string> => {
  const asked = days ?? TOKEN_LIFETIME.defaultDays;
  if (
    typeof asked !== "number" ||
    !Number.isInteger(asked) ||
    asked < 1 ||
    asked > TOKEN_LIFETIME.maxDays
  )
    return {
      ok: false,
      errors: [
        {
          field: "expiresInDays",
          message: `must be a whole number of days from 1 to ${TOKEN_LIFETIME.maxDays}`,
        },
      ],
    };
  return { ok: true, value: new Date(Date.parse(now) + asked * DAY_MS).toISOString() };
};

/** A stored token as `authenticate` judges it. */
export interface TokenState {
  expiresAt: string;
  revokedAt?: string;
}

export type TokenRefusal = "UNKNOWN" | "EXPIRED" | "REVOKED";

/** Why a stored token no longer lets its user in at `now`, or undefined when it does. */
export const tokenRefusal = (token: TokenState, now: string): TokenRefusal | undefined => {
  if (token.revokedAt !== undefined) return "REVOKED";
  if (Date.parse(now) >= Date.parse(token.expiresAt)) return "EXPIRED";
  return undefined;
};

/**
 * The failed-login limit: `failures` wrong passwords for one address within `windowS`
 * seconds lock it for `lockS` seconds from the last of them. Per address, known or not, so
 * a lock says nothing about whether the address has an account.
 */
export const LOGIN_LIMIT = { failures: 5, windowS: 900, lockS: 900 } as const;
export type LoginLimit = { failures: number; windowS: number; lockS: number };

/** The recorded failures, oldest first, with the one at `at`: only the last few matter. */
export const recordLoginFailure = (
  failures: readonly string[],
  at: string,
  limit: LoginLimit = LOGIN_LIMIT,
): string[] => [...failures, at].sort().slice(-limit.failures);

/** Until when the address is locked at `now`, or undefined when a password may be tried. */
export const loginLockedUntil = (
  failures: readonly string[],
  now: string,
  limit: LoginLimit = LOGIN_LIMIT,
): string | undefined => {
  const last = [...failures].sort().slice(-limit.failures);
  const [first] = last;
  const latest = last.at(-1);
  if (last.length < limit.failures || first === undefined || latest === undefined) return undefined;
  if (Date.parse(latest) - Date.parse(first) > limit.windowS * 1000) return undefined;
  const until = Date.parse(latest) + limit.lockS * 1000;
  return Date.parse(now) < until ? new Date(until).toISOString() : undefined;
};

/** When DynamoDB may forget an address's failures: none of them can lock it any more. */
export const loginFailuresExpire = (at: string, limit: LoginLimit = LOGIN_LIMIT): string =>
  new Date(Date.parse(at) + Math.max(limit.windowS, limit.lockS) * 1000).toISOString();
