/** The ports Node's own crypto serves, on AWS as locally. */
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { ScryptPasswords } from "../../crypto/scrypt-passwords.ts";
import { type Builder, builder } from "./builder.ts";

export const passwords: Builder<ControlPlane["passwords"]> = /* @__PURE__ */ builder(
  [],
  () => new ScryptPasswords(),
);
