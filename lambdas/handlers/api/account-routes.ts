import { Hono } from "hono";
import type { z } from "zod";
import type { CallerView } from "../../../sdk/api-types.ts";
import {
  AddUserRequest,
  LoginRequest,
  RoleRequest,
  TokenRequest,
} from "../../../sdk/contract/schemas.ts";
import { createToken, listTokens, revokeToken } from "../../use-cases/access-tokens.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { login } from "../../use-cases/login.ts";
import { addUser, listUsers, removeUser, setRole } from "../../use-cases/users.ts";
import { body, fail, fieldsOf, invalid } from "./responses.ts";
import type { ApiBindings, UserEnv } from "./user-identity.ts";

// Removing a user cancels their jobs: the job ports are for that.
export const ACCOUNT_ROUTES_NEEDS = needs([
  "users",
  "passwords",
  "jobs",
  "commands",
  "workflows",
  "events",
  "metrics",
  "clock",
]);

/**
 * The request's JSON body as its route's contract has it (known fields of their types), or
 * the 400 naming each field that is not; the use cases check each value further.
 */
const fields = async <T>(request: Request, schema: z.ZodType<T>) => {
  const parsed = schema.safeParse(await body(request));
  return parsed.success
    ? ({ ok: true, fields: parsed.data } as const)
    : ({ ok: false, response: invalid("bad request", fieldsOf(parsed.error)) } as const);
};

/** `POST /v1/login`: the one user route without a token, which it hands out. */
export const signInRoutes = (cp: PortsOf<typeof ACCOUNT_ROUTES_NEEDS>) =>
  new Hono<{ Bindings: ApiBindings }>().post("/login", async (c) => {
    const request = await fields(c.req.raw, LoginRequest);
    if (!request.ok) return request.response;
    const signedIn = await login(cp, request.fields);
    if (!signedIn.ok) return fail(signedIn);
    return c.json({ ...signedIn.token, user: signedIn.user });
  });

/** Who the caller is, their own access tokens, and (admins only) the users. */
export const accountRoutes = (cp: PortsOf<typeof ACCOUNT_ROUTES_NEEDS>) => {
  const router = new Hono<UserEnv>();

  router.get("/me", (c) => {
    // Named field by field: whatever else the caller carries stays inside the API.
    const { userId, email, role } = c.get("caller");
    return c.json({ userId, email, role } satisfies CallerView);
  });

  router.post("/tokens", async (c) => {
    const request = await fields(c.req.raw, TokenRequest);
    if (!request.ok) return request.response;
    const made = await createToken(cp, c.get("caller"), request.fields);
    return made.ok ? c.json(made.token, 201) : fail(made);
  });

  router.get("/tokens", async (c) =>
    c.json({ items: (await listTokens(cp, c.get("caller"))).tokens }),
  );

  router.delete("/tokens/:tokenId", async (c) => {
    const revoked = await revokeToken(cp, c.get("caller"), c.req.param("tokenId"));
    return revoked.ok ? c.json(revoked.token) : fail(revoked);
  });

  router.post("/users", async (c) => {
    const request = await fields(c.req.raw, AddUserRequest);
    if (!request.ok) return request.response;
    const added = await addUser(cp, c.get("caller"), request.fields);
    return added.ok ? c.json({ user: added.user, token: added.token }, 201) : fail(added);
  });

  router.get("/users", async (c) => {
    const listed = await listUsers(cp, c.get("caller"));
    return listed.ok ? c.json({ items: listed.users }) : fail(listed);
  });

  router.put("/users/:email/role", async (c) => {
    const request = await fields(c.req.raw, RoleRequest);
    if (!request.ok) return request.response;
    const email = c.req.param("email");
    const changed = await setRole(cp, c.get("caller"), { email, role: request.fields.role });
    return changed.ok ? c.json(changed.user) : fail(changed);
  });

  router.delete("/users/:email", async (c) => {
    const removed = await removeUser(cp, c.get("caller"), { email: c.req.param("email") });
    return removed.ok
      ? c.json({ ...removed.user, canceledJobs: removed.canceledJobs })
      : fail(removed);
  });

  return router;
};
