import {
  LOGIN_LIMIT,
  loginFailuresExpire,
  loginLockedUntil,
  normalizeEmail,
  PASSWORD_MAX,
  recordLoginFailure,
  tokenExpiry,
} from "../domain/identity.ts";
import { type IssuedToken, newToken } from "./access-tokens.ts";
import type { Ports } from "./control-plane.ts";
import { type AccessFailure, type Failure, invalidInput } from "./outcome.ts";
import { type UserView, userView } from "./users.ts";

const WRONG = "the email or the password is wrong";

/**
 * Email and password for a new access token (named `login`). Every refusal reads the same
 * whether the address has an account or not: a wrong password and an unknown address get
 * the same answer after the same scrypt work, and failures lock any address alike
 * (LOGIN_LIMIT), with a clear reason and the time to try again.
 */
export const login = async (
  cp: Ports<"users" | "passwords" | "clock">,
  request: { email: unknown; password: unknown; expiresInDays?: unknown },
): Promise<{ ok: true; user: UserView; token: IssuedToken } | Failure | AccessFailure> => {
  const now = cp.clock.now();
  const email = normalizeEmail(request.email);
  const { password } = request;
  const passwordOk = typeof password === "string" && password.length <= PASSWORD_MAX;
  const expiry = tokenExpiry(now, request.expiresInDays);
  if (!email.ok || !passwordOk || !expiry.ok)
    return invalidInput("invalid sign-in", [
      ...(email.ok ? [] : email.errors),
      ...(passwordOk
        ? []
        : [{ field: "password", message: `a string of at most ${PASSWORD_MAX} characters` }]),
      ...(expiry.ok ? [] : expiry.errors),
    ]);
  // The attempt counts before its password is checked, and is refused in the same atomic
  // update once the address is locked: however many arrive at once, at most
  // LOGIN_LIMIT.failures passwords are checked per window.
  const counted = await cp.users.updateLoginFailures(
    email.value,
    (recorded) => (loginLockedUntil(recorded, now) ? undefined : recordLoginFailure(recorded, now)),
    loginFailuresExpire(now),
  );
  const until = counted.changed ? undefined : loginLockedUntil(counted.failures, now);
  if (until)
    return {
      ok: false,
      error: "LOCKED",
      until,
      message: `${LOGIN_LIMIT.failures} failed sign-ins for ${email.value}: try again after ${until}`,
    };
  const user = await cp.users.getUser(email.value);
  let right = false;
  if (user?.passwordHash) right = await cp.passwords.verify(password, user.passwordHash);
  // As slow as a check, so the time taken does not tell that there is no such user.
  else await cp.passwords.hash(password);
  if (!user || !right)
    return { ok: false, error: "UNAUTHORIZED", reason: "BAD_CREDENTIALS", message: WRONG };
  await cp.users.updateLoginFailures(email.value, () => [], now);
  const token = newToken(user, { expiresInDays: request.expiresInDays }, "login", now);
  if (!token.ok) return token;
  await cp.users.addToken(token.record);
  return { ok: true, user: userView(user), token: token.issued };
};
