import { randomUUID } from "node:crypto";
import {
  type Caller,
  isRole,
  may,
  normalizeEmail,
  ROLES,
  type Role,
  validatePassword,
} from "../domain/identity.ts";
import type { SpecError } from "../domain/job-spec.ts";
import type { UserRecord } from "../ports.ts";
import { type IssuedToken, newToken } from "./access-tokens.ts";
import type { Ports } from "./control-plane.ts";
import {
  type AccessFailure,
  conflict,
  type Failure,
  forbidden,
  invalidInput,
  notFound,
} from "./outcome.ts";

/** A user as the API shows them: never their password's hash. */
export type UserView = Omit<UserRecord, "passwordHash">;

export const userView = ({ passwordHash, ...view }: UserRecord): UserView => view;

/** Who made the first admin: no user did. */
export const SETUP = "setup";

export interface NewUser {
  email: unknown;
  role?: unknown;
  /** Optional: a user without one signs in with tokens only. */
  password?: unknown;
}

const roleOf = (value: unknown): SpecError | Role =>
  isRole(value) ? value : { field: "role", message: `must be one of ${ROLES.join(", ")}` };

/** Writes a user made by `by`, with their first access token (named `first`). */
const writeUser = async (
  cp: Ports<"users" | "passwords" | "clock">,
  request: NewUser,
  by: string,
): Promise<{ ok: true; user: UserView; token: IssuedToken } | Failure> => {
  const email = normalizeEmail(request.email);
  const role = roleOf(request.role ?? "user");
  const password = request.password === undefined ? undefined : validatePassword(request.password);
  const errors = [
    ...(email.ok ? [] : email.errors),
    ...(typeof role === "string" ? [] : [role]),
    ...(password && !password.ok ? password.errors : []),
  ];
  if (!email.ok || typeof role !== "string" || (password && !password.ok))
    return invalidInput("invalid user", errors);
  const now = cp.clock.now();
  const user: UserRecord = {
    userId: randomUUID(),
    email: email.value,
    role,
    ...(password ? { passwordHash: await cp.passwords.hash(password.value) } : {}),
    createdAt: now,
    createdBy: by,
    updatedAt: now,
    updatedBy: by,
  };
  const token = newToken(user, {}, "first", now);
  if (!token.ok) return token;
  const written = await cp.users.addUser(user, token.record, { firstOfAll: by === SETUP });
  if (!written.ok) return conflict(written);
  return { ok: true, user: userView(user), token: token.issued };
};

/** An admin adds a user, who gets a first access token (shown here, once). */
export const addUser = async (
  cp: Ports<"users" | "passwords" | "clock">,
  caller: Caller,
  request: NewUser,
): Promise<{ ok: true; user: UserView; token: IssuedToken } | Failure | AccessFailure> =>
  may(caller, "users.manage")
    ? writeUser(cp, request, caller.userId)
    : forbidden("only an admin adds users");

/**
 * The installation's first admin, made at setup when there is no user yet; once there is
 * one, admins add the others, and this is refused (`USER_EXISTS`): whoever can call it
 * (`npm start`, the stack's BootstrapAdminFunction) must not mint an admin beside them.
 */
export const addFirstAdmin = async (
  cp: Ports<"users" | "passwords" | "clock">,
  request: Omit<NewUser, "role">,
): Promise<{ ok: true; user: UserView; token: IssuedToken } | Failure> => {
  // The store's own check holds against racing setups; this one also refuses tables whose
  // users were added before that check existed.
  if ((await cp.users.listUsers()).length)
    return conflict({
      conflict: "USER_EXISTS",
      message: "the first admin exists already: an admin adds the others (gpuctl user add)",
    });
  return writeUser(cp, { ...request, role: "admin" }, SETUP);
};

export const listUsers = async (
  cp: Ports<"users">,
  caller: Caller,
): Promise<{ ok: true; users: UserView[] } | AccessFailure> =>
  may(caller, "users.manage")
    ? { ok: true, users: (await cp.users.listUsers()).map(userView) }
    : forbidden("only an admin lists users");

// An admin may not demote or remove themself: so there is always an admin left, as only
// another admin can change one.
const selfRefusal = (caller: Caller, email: string, what: string) =>
  caller.email === email ? forbidden(`an admin cannot ${what} themself`) : undefined;

export const setRole = async (
  cp: Ports<"users" | "clock">,
  caller: Caller,
  request: { email: unknown; role: unknown },
): Promise<{ ok: true; user: UserView } | Failure | AccessFailure> => {
  if (!may(caller, "users.manage")) return forbidden("only an admin changes roles");
  const email = normalizeEmail(request.email);
  const role = roleOf(request.role);
  if (!email.ok || typeof role !== "string")
    return invalidInput("invalid role change", [
      ...(email.ok ? [] : email.errors),
      ...(typeof role === "string" ? [] : [role]),
    ]);
  const self = selfRefusal(caller, email.value, "change the role of");
  if (self) return self;
  const user = await cp.users.setRole(email.value, role, caller.userId, cp.clock.now());
  return user ? { ok: true, user: userView(user) } : notFound(`user ${email.value}`);
};

/** Removes a user; their tokens stop working at once. Their jobs stay, under their user id. */
export const removeUser = async (
  cp: Ports<"users" | "clock">,
  caller: Caller,
  request: { email: unknown },
): Promise<{ ok: true; user: UserView } | Failure | AccessFailure> => {
  if (!may(caller, "users.manage")) return forbidden("only an admin removes users");
  const email = normalizeEmail(request.email);
  if (!email.ok) return invalidInput("invalid user", email.errors);
  const self = selfRefusal(caller, email.value, "remove");
  if (self) return self;
  const user = await cp.users.removeUser(email.value, caller.userId, cp.clock.now());
  return user ? { ok: true, user: userView(user) } : notFound(`user ${email.value}`);
};
