import type { Command } from "commander";
import { ApiRequestError, GpuctlClient, UnreachableError } from "../../sdk/client.ts";
import { clearToken, configPath, loadConfig } from "../../sdk/config.ts";
import { examples } from "./help.ts";
import { action } from "./run.ts";
import { findToken } from "./token.ts";

/** The name of the tokens `gpuctl login` makes (`npm start` names its admin's `first`): revoked on logout. */
const SIGN_IN_TOKEN = "login";

/**
 * What became of the token on the server: revoked, kept (one the user made for themselves
 * with `token create`, which may serve elsewhere), refused already, or not reached.
 */
export const revokeSignIn = async (client: GpuctlClient, token: string): Promise<string> => {
  try {
    const listed = findToken(await client.listTokens(), token);
    if (listed?.name !== SIGN_IN_TOKEN)
      return `token ${listed?.tokenId ?? "-"} "${listed?.name ?? "-"}" was not made by \`gpuctl login\`: it still works until it expires or \`gpuctl token revoke ${listed?.tokenId ?? "ID"}\``;
    if (listed.revokedAt === undefined) await client.revokeToken(listed.tokenId);
    return `token ${listed.tokenId} revoked`;
  } catch (error) {
    if (error instanceof ApiRequestError && error.status === 401)
      return "the server no longer accepted the token";
    if (error instanceof UnreachableError)
      return `${client.endpoint} is not reachable, so the token was not revoked there: it works until it expires or you revoke it (\`gpuctl token list\` once signed in)`;
    throw error;
  }
};

/** `gpuctl logout`: revokes the config's sign-in token on the server, then forgets it. */
export const registerLogout = (program: Command): void => {
  program
    .command("logout")
    .description(
      "sign out: revoke the CLI's sign-in token on the server (when reachable) and remove it from the config",
    )
    .addHelpText("after", examples([["gpuctl logout", "revoke and forget the CLI's token"]]))
    .action(
      action(async () => {
        const path = configPath();
        // The file's own token, not GPUCTL_TOKEN's: logout signs the config out.
        const config = loadConfig({ GPUCTL_CONFIG: path });
        if (config.token === undefined) {
          process.stdout.write(`not signed in to ${config.endpoint}\n`);
          return 0;
        }
        const outcome = await revokeSignIn(new GpuctlClient(config), config.token);
        await clearToken(path);
        process.stdout.write(
          `signed out of ${config.endpoint}: ${outcome}; removed from ${path}\n`,
        );
        return 0;
      }),
    );
};
