import { type Command, Option } from "commander";
import { GpuctlClient } from "../../sdk/client.ts";
import { configPath, loadConfig, savedConfig, saveToken } from "../../sdk/config.ts";
import { examples } from "./help.ts";
import { revokeSignIn } from "./logout.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { ask, interactive, readSecret, readStdinLine } from "./prompt.ts";
import { action, EXIT_USAGE, printError } from "./run.ts";
import { findToken } from "./token.ts";
import { parseEmail } from "./user.ts";

interface LoginOptions {
  email?: string;
  token?: string;
  output: OutputFormat;
}

/** What `login` learnt, printed and returned as `-o json`. */
interface SignedIn {
  endpoint: string;
  email: string;
  role: string;
  tokenId: string;
  tokenName: string;
  expiresAt: string;
}

/** A usage refusal naming the field and why: printed, and the exit code for it. */
const refuse = (message: string): number => {
  printError(message);
  return EXIT_USAGE;
};

/** Email and password (asked for, or the password piped in) for a new `login` token. */
const withPassword = async (
  endpoint: string,
  given: string | undefined,
): Promise<{ token: string; signedIn: SignedIn } | number> => {
  let email = given;
  if (email === undefined) {
    if (!interactive()) return refuse("--email: required when stdin is not a terminal");
    try {
      email = parseEmail(await ask("Email: "));
    } catch (error) {
      return refuse(`email: ${(error as Error).message}`);
    }
  }
  const password = await readSecret("Password: ");
  if (!password) return refuse("password: empty (type it at the prompt, or pipe it as one line)");
  const answer = await new GpuctlClient({ endpoint }).login({ email, password });
  return {
    token: answer.token,
    signedIn: {
      endpoint,
      email: answer.user.email,
      role: answer.user.role,
      tokenId: answer.tokenId,
      tokenName: answer.name,
      expiresAt: answer.expiresAt,
    },
  };
};

/** A token given or piped in, kept only once the API says whom it signs in. */
const withToken = async (
  endpoint: string,
  given: string,
): Promise<{ token: string; signedIn: SignedIn } | number> => {
  const token = given === "-" ? (await readStdinLine())?.trim() : given;
  if (!token) return refuse("--token: empty");
  const client = new GpuctlClient({ endpoint, token });
  const [caller, tokens] = await Promise.all([client.whoami(), client.listTokens()]);
  const listed = findToken(tokens, token);
  return {
    token,
    signedIn: {
      endpoint,
      email: caller.email,
      role: caller.role,
      tokenId: listed?.tokenId ?? "-",
      tokenName: listed?.name ?? "-",
      expiresAt: listed?.expiresAt ?? "-",
    },
  };
};

const describe = ({ endpoint, email, role, tokenId, tokenName, expiresAt }: SignedIn): string =>
  `signed in to ${endpoint} as ${email} (${role}); token ${tokenId} "${tokenName}" expires ${expiresAt}`;

/** `gpuctl login`: signs the CLI in, writing the token into its config for the endpoint. */
export const registerLogin = (program: Command): void => {
  program
    .command("login")
    .description(
      "sign in with email and password (never echoed; piped in as one line when stdin is not a terminal) or with an access token; the token an earlier `gpuctl login` made is revoked",
    )
    .addOption(new Option("--email <email>", "the address to sign in as").argParser(parseEmail))
    .addOption(
      new Option(
        "--token <token>",
        "sign in with this access token; `-` reads it from stdin, out of the shell's history",
      ).conflicts("email"),
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl login --email alice@example.com", "asks for the password, without echo"],
        ["gpuctl login --token - < token.txt", "an access token from stdin"],
        ["GPUCTL_ENDPOINT=https://api.example.com gpuctl login --email alice@example.com"],
      ]),
    )
    .action(
      action(async ({ email, token, output }: LoginOptions) => {
        const { endpoint } = loadConfig();
        const made =
          token !== undefined
            ? await withToken(endpoint, token)
            : await withPassword(endpoint, email);
        if (typeof made === "number") return made;
        const path = configPath();
        const previous = savedConfig(path);
        await saveToken(path, endpoint, made.token);
        // Best effort and silent: an earlier sign-in's token stops working rather than living
        // out its days; one the user made for themselves stays.
        if (previous?.token !== undefined && previous.token !== made.token)
          await revokeSignIn(new GpuctlClient(previous), previous.token).catch(() => undefined);
        if (output === "json") printJson(made.signedIn);
        else process.stdout.write(`${describe(made.signedIn)}\n`);
        return 0;
      }),
    );
};
