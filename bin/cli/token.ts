import { type Command, InvalidArgumentError } from "commander";
import { TOKEN_LIFETIME, TOKEN_PREFIX } from "../../lambdas/domain/identity.ts";
import type { TokenView } from "../../sdk/api-types.ts";
import { renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { cell, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";

/** `--expires-in-days`: a whole number of days the API would take, checked before asking it. */
export const parseDays = (value: string): number => {
  const days = Number(value);
  if (!/^\d+$/.test(value) || days < 1 || days > TOKEN_LIFETIME.maxDays)
    throw new InvalidArgumentError(
      `must be a whole number of days from 1 to ${TOKEN_LIFETIME.maxDays}`,
    );
  return days;
};

/** The listed token that `token` is: its id begins its random part. */
export const findToken = (tokens: TokenView[], token: string): TokenView | undefined =>
  tokens.find((listed) => token.startsWith(`${TOKEN_PREFIX}${listed.tokenId}`));

const tokenStatus = (token: TokenView, now: number): string => {
  if (token.revokedAt !== undefined) return "revoked";
  return Date.parse(token.expiresAt) <= now ? "expired" : "active";
};

export const tokensTable = (tokens: TokenView[], now: number = Date.now()) => ({
  headers: ["id", "name", "status", "created", "expires", "revoked"],
  rows: tokens.map((token) => [
    token.tokenId,
    token.name,
    tokenStatus(token, now),
    token.createdAt,
    token.expiresAt,
    cell(token.revokedAt),
  ]),
});

/** `gpuctl token create|list|revoke`: the caller's own personal access tokens. */
export const registerToken = (program: Command): void => {
  const token = program
    .command("token")
    .description("make, list and revoke your access tokens")
    .addHelpText(
      "after",
      examples([
        ["gpuctl token create --name ci", "a token for a CI machine"],
        ["gpuctl token list"],
        ["gpuctl token revoke TOKEN_ID"],
      ]),
    );

  token
    .command("create")
    .description("make an access token; it is printed once and never shown again")
    .option("--name <name>", 'what to call it, e.g. the machine it is for (default "token")')
    .option(
      "--expires-in-days <days>",
      `days until it expires (1-${TOKEN_LIFETIME.maxDays}, default ${TOKEN_LIFETIME.defaultDays})`,
      parseDays,
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl token create", 'named "token", for the default lifetime'],
        ["gpuctl token create --name laptop --expires-in-days 7"],
        [
          "gpuctl token create --name ci -o json | jq -r .token",
          "the token alone, for a secret store",
        ],
      ]),
    )
    .action(
      action(
        async ({
          name,
          expiresInDays,
          output,
        }: {
          name?: string;
          expiresInDays?: number;
          output: OutputFormat;
        }) => {
          const made = await connect().createToken({
            ...(name !== undefined && { name }),
            ...(expiresInDays !== undefined && { expiresInDays }),
          });
          if (output === "json") printJson(made);
          else {
            // The token alone on stdout, so `$(gpuctl token create)` captures just it.
            process.stdout.write(`${made.token}\n`);
            process.stderr.write(
              `token ${made.tokenId} "${made.name}", expires ${made.expiresAt}: copy it now, it will not be shown again\n`,
            );
          }
          return 0;
        },
      ),
    );

  token
    .command("list")
    .description("list your access tokens, newest first, revoked and expired ones too")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl token list", "each with its status and expiry"],
        ["gpuctl token list -o json"],
      ]),
    )
    .action(
      action(async ({ output }: { output: OutputFormat }) => {
        const tokens = await connect().listTokens();
        if (output === "json") printJson(tokens);
        else if (tokens.length === 0) process.stdout.write("no tokens\n");
        else process.stdout.write(`${renderText(tokensTable(tokens))}\n`);
        return 0;
      }),
    );

  token
    .command("revoke")
    .description("revoke one of your access tokens: it is refused from then on")
    .argument("<id>", "the token's id, as `gpuctl token list` shows it")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([["gpuctl token revoke TOKEN_ID", "the id `gpuctl token list` shows"]]),
    )
    .action(
      action(async (id: string, { output }: { output: OutputFormat }) => {
        const revoked = await connect().revokeToken(id);
        if (output === "json") printJson(revoked);
        else process.stdout.write(`revoked token ${revoked.tokenId} "${revoked.name}"\n`);
        return 0;
      }),
    );
};
