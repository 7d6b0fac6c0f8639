import type { Role } from "../../lambdas/domain/identity.ts";
import type { Ports } from "../../lambdas/use-cases/control-plane.ts";
import { addFirstAdmin, addUser } from "../../lambdas/use-cases/users.ts";

/** A user made through the use cases: their id (the owner of their jobs) and first token. */
export interface TestUser {
  userId: string;
  email: string;
  token: string;
}

/**
 * Makes users on `cp`'s table as an installation does: the first admin at setup (`admin`),
 * who adds the others (`add`).
 */
export const testUsers = (cp: Ports<"users" | "passwords" | "clock">) => {
  let first: Promise<TestUser> | undefined;
  const admin = () => {
    first ??= addFirstAdmin(cp, { email: "admin@example.org" }).then((made) => {
      if (!made.ok) throw new Error(`no first admin: ${JSON.stringify(made)}`);
      return { userId: made.user.userId, email: made.user.email, token: made.token.token };
    });
    return first;
  };
  const add = async (email: string, role: Role = "user", password?: string): Promise<TestUser> => {
    const { userId, email: adminEmail } = await admin();
    const added = await addUser(
      cp,
      { userId, email: adminEmail, role: "admin" },
      { email, role, ...(password ? { password } : {}) },
    );
    if (!added.ok) throw new Error(`user ${email} not added: ${JSON.stringify(added)}`);
    return { userId: added.user.userId, email: added.user.email, token: added.token.token };
  };
  return { admin, add };
};
