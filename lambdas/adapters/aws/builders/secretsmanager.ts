import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Settings } from "../../../use-cases/control-plane.ts";
import { type Builder, builder } from "./builder.ts";

/** The secret is read once per container: rotating it takes new containers (a deploy). */
export const agent: Builder<Settings["agent"]> = /* @__PURE__ */ builder(
  ["agent"],
  async ({ agent }) => {
    const secret = await new SecretsManagerClient({}).send(
      new GetSecretValueCommand({ SecretId: agent.AGENT_SECRET_ARN }),
    );
    if (!secret.SecretString)
      throw new Error(`AGENT_SECRET_ARN: secret ${agent.AGENT_SECRET_ARN} has no string value`);
    return { endpoint: agent.AGENT_ENDPOINT, secret: secret.SecretString };
  },
);
