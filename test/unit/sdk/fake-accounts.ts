/** The account routes of the fake API: users with passwords, their tokens and the sign-in lock. */
import type { Role } from "../../../lambdas/domain/identity.ts";
import type { IssuedTokenView, TokenView, UserView } from "../../../sdk/api-types.ts";
import { apiError, type FakeResponse, type Handler, type RecordedRequest } from "./fake-api.ts";

const AT = "2026-01-01T00:00:00.000Z";
// Far ahead, so the CLI lists these tokens as active whenever the tests run.
const EXPIRES = "2099-04-01T00:00:00.000Z";
/** Wrong passwords before an address is locked, as the real API's LOGIN_LIMIT. */
const FAILURES = 5;
export const LOCKED_UNTIL = "2026-01-01T00:15:00.000Z";
export const NOT_SIGNED_IN = "a valid access token is required (Authorization: Bearer gpuctl_...)";

interface FakeUser extends UserView {
  password?: string;
}

interface FakeToken extends TokenView {
  token: string;
  userId: string;
}

export interface FakeAccounts {
  handler: Handler;
  users: FakeUser[];
  tokens: FakeToken[];
  /** Gives `email` a new token, as `POST /v1/users` or the first admin's setup would. */
  issue(email: string, name: string): IssuedTokenView;
}

const bearer = (request: RecordedRequest): string | undefined =>
  /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];

const bodyOf = (request: RecordedRequest): Record<string, unknown> =>
  JSON.parse(request.body.toString("utf8") || "{}") as Record<string, unknown>;

const view = ({ token, userId, ...listed }: FakeToken): TokenView => listed;
const userView = ({ password, ...user }: FakeUser): UserView => user;

/** Starts with an admin, `admin@example.org`, and `ada@example.org` (a user with `password`). */
export const fakeAccounts = (password: string): FakeAccounts => {
  const user = (email: string, role: Role, secret?: string): FakeUser => ({
    userId: `u-${email.split("@")[0]}`,
    email,
    role,
    ...(secret && { password: secret }),
    createdAt: AT,
    createdBy: "setup",
    updatedAt: AT,
    updatedBy: "setup",
  });
  const users = [user("admin@example.org", "admin"), user("ada@example.org", "user", password)];
  const tokens: FakeToken[] = [];
  const failures = new Map<string, number>();

  const issue = (email: string, name: string): IssuedTokenView => {
    const owner = users.find((candidate) => candidate.email === email);
    if (!owner) throw new Error(`no fake user ${email}`);
    const tokenId = `id${String(tokens.length).padStart(6, "0")}`;
    const made = {
      tokenId,
      name,
      createdAt: AT,
      expiresAt: EXPIRES,
      token: `gpuctl_${tokenId}${"x".repeat(35)}`,
      userId: owner.userId,
    };
    tokens.unshift(made);
    return { ...view(made), token: made.token };
  };

  const login = (request: RecordedRequest): FakeResponse => {
    const { email, password: given } = bodyOf(request) as { email: string; password: string };
    if ((failures.get(email) ?? 0) >= FAILURES)
      return {
        ...apiError(
          429,
          "LOCKED",
          `${FAILURES} failed sign-ins for ${email}: try again after ${LOCKED_UNTIL}`,
        ),
        headers: { "retry-after": new Date(LOCKED_UNTIL).toUTCString() },
      };
    const found = users.find((candidate) => candidate.email === email);
    if (!found?.password || found.password !== given) {
      failures.set(email, (failures.get(email) ?? 0) + 1);
      return apiError(401, "UNAUTHORIZED", "the email or the password is wrong");
    }
    return { json: { ...issue(email, "login"), user: userView(found) } };
  };

  const handler: Handler = (request) => {
    if (request.method === "POST" && request.path === "/v1/login") return login(request);
    const token = tokens.find((made) => made.token === bearer(request) && !made.revokedAt);
    const caller = users.find((candidate) => candidate.userId === token?.userId);
    if (!caller) return apiError(401, "UNAUTHORIZED", NOT_SIGNED_IN);
    const route = `${request.method} ${request.path}`;
    if (route === "GET /v1/me")
      return { json: { userId: caller.userId, email: caller.email, role: caller.role } };
    if (route === "GET /v1/tokens")
      return { json: { items: tokens.filter((made) => made.userId === caller.userId).map(view) } };
    if (route === "POST /v1/tokens") {
      const { name, expiresInDays } = bodyOf(request) as { name?: string; expiresInDays?: number };
      const made = issue(caller.email, name ?? "token");
      return {
        status: 201,
        json: expiresInDays ? { ...made, expiresAt: "2026-01-08T00:00:00.000Z" } : made,
      };
    }
    const revoke = /^DELETE \/v1\/tokens\/(.+)$/.exec(route);
    if (revoke) {
      const mine = tokens.find(
        (made) => made.tokenId === revoke[1] && made.userId === caller.userId,
      );
      if (!mine) return apiError(404, "NOT_FOUND", `token ${revoke[1]} not found`);
      mine.revokedAt ??= AT;
      return { json: view(mine) };
    }
    if (caller.role !== "admin") return apiError(403, "FORBIDDEN", "only an admin manages users");
    if (route === "GET /v1/users") return { json: { items: users.map(userView) } };
    if (route === "POST /v1/users") {
      const {
        email,
        role,
        password: secret,
      } = bodyOf(request) as {
        email: string;
        role?: Role;
        password?: string;
      };
      if (users.some((existing) => existing.email === email))
        return apiError(409, "CONFLICT", `user ${email} exists`);
      const added = { ...user(email, role ?? "user", secret), createdBy: caller.userId };
      users.push(added);
      return { status: 201, json: { user: userView(added), token: issue(email, "first") } };
    }
    const one = /^(PUT|DELETE) \/v1\/users\/([^/]+)(\/role)?$/.exec(route);
    const target = users.find(
      (candidate) => candidate.email === decodeURIComponent(one?.[2] ?? ""),
    );
    if (!one || !target) return apiError(404, "NOT_FOUND", "user not found");
    if (one[1] === "PUT") {
      target.role = (bodyOf(request) as { role: Role }).role;
      return { json: userView(target) };
    }
    users.splice(users.indexOf(target), 1);
    return { json: { ...userView(target), canceledJobs: 2 } };
  };

  return { handler, users, tokens, issue };
};
