import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { passwords } from "../../adapters/aws/builders/crypto.ts";
import { users } from "../../adapters/aws/builders/dynamodb.ts";
import { clock } from "../../adapters/aws/builders/settings.ts";
import { BOOTSTRAP_ADMIN_NEEDS, bootstrapAdminRequested } from "../events/bootstrap-admin.ts";
import { logger, wrapHandler } from "./wrap-handler.ts";

/** The first admin, made once by the operator (`gpuctl admin bootstrap`); no trigger of its own. */
const cp = await buildPorts(BOOTSTRAP_ADMIN_NEEDS, { users, passwords, clock });

// The answer holds the admin's token: it goes back to the invoker alone, never to the log.
export const handler = wrapHandler(async (event: unknown) => {
  const answer = await bootstrapAdminRequested(cp, event);
  if (answer.ok) logger.info("first admin made", { email: answer.email, userId: answer.userId });
  else logger.warn("no first admin made", { error: answer.error, message: answer.message });
  return answer;
});
