import type { SpecError } from "../../domain/job-spec.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { addFirstAdmin } from "../../use-cases/users.ts";

export const BOOTSTRAP_ADMIN_NEEDS = needs(["users", "passwords", "clock"]);

/**
 * What the operator's invocation gets back (`gpuctl admin bootstrap` reads it): the first
 * admin and their first access token, shown this once; or why none was made. A refusal is
 * an answer, not a function error, so the CLI can say which field or what to do.
 */
export type BootstrapAnswer =
  | { ok: true; email: string; userId: string; token: string; expiresAt: string }
  | { ok: false; error: string; message: string; fields?: SpecError[] };

/**
 * The stack's BootstrapAdminFunction, invoked by the operator with their own AWS
 * credentials (nothing else triggers it) with `{ "email": "..." }`: makes the first admin,
 * refused once any user exists.
 */
export const bootstrapAdminRequested = async (
  cp: PortsOf<typeof BOOTSTRAP_ADMIN_NEEDS>,
  event: unknown,
): Promise<BootstrapAnswer> => {
  const email =
    typeof event === "object" && event !== null ? Reflect.get(event, "email") : undefined;
  const made = await addFirstAdmin(cp, { email });
  if (!made.ok)
    return {
      ok: false,
      error: made.error,
      message: made.message,
      ...("fields" in made ? { fields: made.fields } : {}),
    };
  return {
    ok: true,
    email: made.user.email,
    userId: made.user.userId,
    token: made.token.token,
    expiresAt: made.token.expiresAt,
  };
};
