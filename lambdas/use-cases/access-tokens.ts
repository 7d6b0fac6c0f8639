import { randomBytes } from "node:crypto";
import {
  type Caller,
  isTokenShaped,
  mintToken,
  TOKEN_BYTES,
  type TokenRefusal,
  tokenExpiry,
  tokenHash,
  tokenRefusal,
} from "../domain/identity.ts";
import type { SpecError } from "../domain/job-spec.ts";
import type { TokenRecord, UserRecord } from "../ports.ts";
import type { Ports } from "./control-plane.ts";
import { type AccessFailure, type Failure, invalidInput, notFound } from "./outcome.ts";

/** A token as its user sees it listed: never the token, nor its hash. */
export type TokenView = Omit<TokenRecord, "hash" | "userId" | "email">;

export const tokenView = ({ hash, userId, email, ...view }: TokenRecord): TokenView => view;

/** A token just made: the only time `token` is shown. */
export type IssuedToken = TokenView & { token: string };

export const NAME_MAX = 64;

// C0 and C1 controls, DEL among them: a name with an ANSI escape would rewrite the terminal
// of whoever lists the tokens, and NUL cuts it short in C-string tools.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const tokenName = (value: unknown, fallback: string): SpecError | string => {
  const name = value ?? fallback;
  if (typeof name !== "string" || name.trim() === "" || name.length > NAME_MAX)
    return { field: "name", message: `must be 1 to ${NAME_MAX} characters` };
  if (CONTROL.test(name))
    return { field: "name", message: "must not hold control characters (escapes, NUL, tabs)" };
  return name.trim();
};

/**
 * A new token for `user`, to store and hand out once: named `name` (or `fallback`), lasting
 * `expiresInDays` (TOKEN_LIFETIME's default when absent, never beyond its maximum).
 */
export const newToken = (
  user: Pick<UserRecord, "userId" | "email">,
  request: { name?: unknown; expiresInDays?: unknown },
  fallback: string,
  now: string,
): { ok: true; record: TokenRecord; issued: IssuedToken } | Failure => {
  const name = tokenName(request.name, fallback);
  const expiry = tokenExpiry(now, request.expiresInDays);
  const errors = [...(typeof name === "string" ? [] : [name]), ...(expiry.ok ? [] : expiry.errors)];
  if (typeof name !== "string" || !expiry.ok) return invalidInput("invalid token request", errors);
  const { token, tokenId, hash } = mintToken(randomBytes(TOKEN_BYTES));
  const record: TokenRecord = {
    tokenId,
    hash,
    userId: user.userId,
    email: user.email,
    name,
    createdAt: now,
    expiresAt: expiry.value,
  };
  return { ok: true, record, issued: { ...tokenView(record), token } };
};

/** Makes the caller another token of their own. */
export const createToken = async (
  cp: Ports<"users" | "clock">,
  caller: Caller,
  request: { name?: unknown; expiresInDays?: unknown },
): Promise<{ ok: true; token: IssuedToken } | Failure> => {
  const made = newToken(caller, request, "token", cp.clock.now());
  if (!made.ok) return made;
  await cp.users.addToken(made.record);
  return { ok: true, token: made.issued };
};

/** The caller's own tokens, newest first. */
export const listTokens = async (
  cp: Ports<"users">,
  caller: Caller,
): Promise<{ ok: true; tokens: TokenView[] }> => ({
  ok: true,
  tokens: (await cp.users.listTokens(caller.userId)).map(tokenView),
});

/** Revokes one of the caller's tokens; another user's token id is not found, as an unknown one. */
export const revokeToken = async (
  cp: Ports<"users" | "clock">,
  caller: Caller,
  tokenId: string,
): Promise<{ ok: true; token: TokenView } | Failure> => {
  const revoked = await cp.users.revokeToken(caller.userId, tokenId, cp.clock.now());
  return revoked ? { ok: true, token: tokenView(revoked) } : notFound(`token ${tokenId}`);
};

// One message for a missing, unknown, expired or revoked token and a removed user's, as
// docs/security.md promises: only `reason` tells them apart, for the client to act on.
const NOT_SIGNED_IN =
  "a valid access token is required (Authorization: Bearer gpuctl_...): sign in or make a new token";

const unauthorized = (reason: TokenRefusal): AccessFailure => ({
  ok: false,
  error: "UNAUTHORIZED",
  reason,
  message: NOT_SIGNED_IN,
});

/**
 * Who `token` says the caller is, with the role their user has now. A token of a removed
 * user is unknown, even if a new user has their email since: it names the old user's id;
 * so is a missing one.
 */
export const authenticate = async (
  cp: Ports<"users" | "clock">,
  token: string | undefined,
): Promise<{ ok: true; caller: Caller } | AccessFailure> => {
  if (token === undefined || !isTokenShaped(token)) return unauthorized("UNKNOWN");
  const record = await cp.users.tokenByHash(tokenHash(token));
  if (!record) return unauthorized("UNKNOWN");
  const refusal = tokenRefusal(record, cp.clock.now());
  if (refusal) return unauthorized(refusal);
  const user = await cp.users.getUser(record.email);
  if (!user || user.userId !== record.userId) return unauthorized("UNKNOWN");
  return { ok: true, caller: { userId: user.userId, email: user.email, role: user.role } };
};
