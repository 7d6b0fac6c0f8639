import { createHmac, timingSafeEqual } from "node:crypto";
import type { LaunchRequest } from "../ports.ts";
import type { ControlPlane } from "./control-plane.ts";

const signature = (secret: string, instanceId: string) =>
  createHmac("sha256", secret).update(instanceId).digest("base64url");

/**
 * Each instance's agent gets its own token, `<instanceId>.<HMAC of it>`: the control
 * plane can tell which instance calls without storing a token, and one instance's token
 * (readable by the jobs it runs) opens nothing of another's.
 */
export const agentAccess = (
  cp: Pick<ControlPlane, "settings">,
  instanceId: string,
): LaunchRequest["agent"] => ({
  endpoint: cp.settings.agent.endpoint,
  token: `${instanceId}.${signature(cp.settings.agent.secret, instanceId)}`,
});

/** The instance a bearer token was issued to, or undefined for a token this control plane did not issue. */
export const instanceOfToken = (secret: string, token: string): string | undefined => {
  const dot = token.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const instanceId = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(signature(secret, instanceId));
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? instanceId
    : undefined;
};
