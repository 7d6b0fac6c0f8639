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
import { isTerminal } from "../domain/phases.ts";
import type { UserChange, UserRecord } from "../ports.ts";
import { type IssuedToken, newToken } from "./access-tokens.ts";
import type { Ports } from "./control-plane.ts";
import { cancelJob } from "./finish-job.ts";
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

const FIRST_ADMIN_EXISTS =
  "the first admin exists already: an admin adds the others (gpuctl user add)";

const LAST_ADMIN =
  "an installation always keeps an admin: another admin cannot be demoted or removed now, as that would leave none";

export interface NewUser {
  email: unknown;
  role?: unknown;
  /** Optional: a user without one signs in with tokens only. */
  password?: unknown;
}

const roleOf = (value: unknown): SpecError | Role =>
  isRole(value) ? value : { field: "role", message: `must be one of ${ROLES.join(", ")}` };

/**
 * Writes a user made by `by`, with their first access token (named `first`); the
 * installation's first user (`firstOfAll`) is written once ever.
 */
const writeUser = async (
  cp: Ports<"users" | "passwords" | "clock">,
  request: NewUser,
  by: string,
  firstOfAll = false,
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
  const written = await cp.users.addUser(user, token.record, { firstOfAll });
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
  const exists = conflict({ conflict: "USER_EXISTS", message: FIRST_ADMIN_EXISTS });
  // The store's own check holds against racing setups; this one also refuses tables whose
  // users were added before that check existed.
  if ((await cp.users.listUsers()).length) return exists;
  const written = await writeUser(cp, { ...request, role: "admin" }, SETUP, true);
  return !written.ok && written.error === "CONFLICT" ? exists : written;
};

export const listUsers = async (
  cp: Ports<"users">,
  caller: Caller,
): Promise<{ ok: true; users: UserView[] } | AccessFailure> =>
  may(caller, "users.manage")
    ? { ok: true, users: (await cp.users.listUsers()).map(userView) }
    : forbidden("only an admin lists users");

// An admin may not demote or remove themself: so there is always an admin left, as only
// another admin can change one. Two admins demoting each other at once are caught by the
// store's admin count (LAST_ADMIN).
const selfRefusal = (caller: Caller, email: string, what: string) =>
  caller.email === email ? forbidden(`an admin cannot ${what} themself`) : undefined;

/** The store's answer as the API gives it: its conflicts worded for the caller. */
const changed = (email: string, change: UserChange | undefined) => {
  if (!change) return notFound(`user ${email}`);
  if (change.ok) return { ok: true as const, user: userView(change.user) };
  return conflict(
    change.conflict === "LAST_ADMIN"
      ? { conflict: change.conflict, message: LAST_ADMIN }
      : { conflict: change.conflict, message: `user ${email} changed meanwhile: try again` },
  );
};

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
  return changed(
    email.value,
    await cp.users.setRole(email.value, role, caller.userId, cp.clock.now()),
  );
};

type RemovePorts = Ports<
  "users" | "jobs" | "commands" | "workflows" | "events" | "metrics" | "clock"
>;

/** Cancels every job of `owner` that has not ended, recorded as `by`'s: how many it canceled. */
const cancelJobsOf = async (cp: RemovePorts, owner: string, by: Caller): Promise<number> => {
  let canceled = 0;
  let cursor: string | undefined;
  do {
    const page = await cp.jobs.listByOwner(owner, cursor ? { cursor } : {});
    for (const record of page.items)
      if (!isTerminal(record.job.phase) && (await cancelJob(cp, record.job.id, by)).ok) canceled++;
    cursor = page.cursor;
  } while (cursor);
  return canceled;
};

/**
 * Removes a user; their tokens stop working at once. Their jobs that have not ended are
 * canceled first, by the admin, pending review ones too: no one could stop them after, and
 * no reviewer should approve a job no user owns. Their ended jobs stay, under their user id.
 */
export const removeUser = async (
  cp: RemovePorts,
  caller: Caller,
  request: { email: unknown },
): Promise<{ ok: true; user: UserView; canceledJobs: number } | Failure | AccessFailure> => {
  if (!may(caller, "users.manage")) return forbidden("only an admin removes users");
  const email = normalizeEmail(request.email);
  if (!email.ok) return invalidInput("invalid user", email.errors);
  const self = selfRefusal(caller, email.value, "remove");
  if (self) return self;
  const user = await cp.users.getUser(email.value);
  if (!user) return notFound(`user ${email.value}`);
  const before = await cancelJobsOf(cp, user.userId, caller);
  const removed = changed(
    email.value,
    await cp.users.removeUser(email.value, caller.userId, cp.clock.now()),
  );
  if (!removed.ok) return removed;
  // A job submitted between the first pass and the removal, while the user's tokens still worked.
  const after = await cancelJobsOf(cp, user.userId, caller);
  return { ...removed, canceledJobs: before + after };
};
