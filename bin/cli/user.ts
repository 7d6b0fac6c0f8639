import { Argument, type Command, InvalidArgumentError, Option } from "commander";
import {
  normalizeEmail,
  ROLES,
  type Role,
  validatePassword,
} from "../../lambdas/domain/identity.ts";
import type { UserView } from "../../sdk/api-types.ts";
import { renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { readSecret } from "./prompt.ts";
import { action, connect, EXIT_USAGE, printError } from "./run.ts";

/** An email argument or option, refused as the API would refuse it, before any request. */
export const parseEmail = (value: string): string => {
  const email = normalizeEmail(value);
  if (!email.ok)
    throw new InvalidArgumentError(email.errors.map((error) => error.message).join("; "));
  return email.value;
};

const emailArgument = () =>
  new Argument("<email>", "the user's email address").argParser(parseEmail);

export const usersTable = (users: UserView[]) => {
  const emailOf = new Map(users.map((user) => [user.userId, user.email]));
  return {
    headers: ["email", "role", "created", "by"],
    rows: users.map((user) => [
      user.email,
      user.role,
      user.createdAt,
      emailOf.get(user.createdBy) ?? user.createdBy,
    ]),
  };
};

/**
 * `--password-stdin`: the first line piped in, or typed without echo at a terminal, checked
 * as the API would check it.
 */
const passwordFromStdin = async (): Promise<string | { error: string }> => {
  const checked = validatePassword((await readSecret("Their password: ")) ?? "");
  return checked.ok
    ? checked.value
    : { error: checked.errors.map((error) => `${error.field}: ${error.message}`).join("; ") };
};

/** `gpuctl user add|list|role|remove`: the admins' verbs. */
export const registerUser = (program: Command): void => {
  const user = program
    .command("user")
    .description("add, list, change and remove users (admins)")
    .addHelpText(
      "after",
      examples([
        ["gpuctl user add bob@example.com", "a user, with their first token"],
        ["gpuctl user list"],
        ["gpuctl user role bob@example.com reviewer"],
        ["gpuctl user remove bob@example.com"],
      ]),
    );

  user
    .command("add")
    .description("add a user; prints their first access token, shown this once")
    .addArgument(emailArgument())
    .addOption(new Option("--role <role>", "their role").choices(ROLES).default("user"))
    .option(
      "--password-stdin",
      "read a password for them (12 characters or more): the first line of stdin, or typed without echo at a terminal",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl user add bob@example.com", "prints their first access token"],
        ["gpuctl user add carol@example.com --role reviewer"],
        [
          "gpuctl user add dave@example.com --password-stdin < pw.txt",
          "they can also sign in with a password",
        ],
      ]),
    )
    .action(
      action(
        async (
          email: string,
          {
            role,
            passwordStdin,
            output,
          }: { role: Role; passwordStdin?: boolean; output: OutputFormat },
        ) => {
          const password = passwordStdin ? await passwordFromStdin() : undefined;
          if (typeof password === "object") {
            printError(password.error);
            return EXIT_USAGE;
          }
          const added = await connect().addUser({
            email,
            role,
            ...(password !== undefined && { password }),
          });
          if (output === "json") printJson(added);
          else {
            process.stdout.write(
              `added ${added.user.email} (${added.user.role})\n` +
                `first access token, shown this once: ${added.token.token}\n`,
            );
          }
          return 0;
        },
      ),
    );

  user
    .command("list")
    .description("list every user with their role")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([["gpuctl user list"], ["gpuctl user list -o json | jq -r '.[].email'"]]),
    )
    .action(
      action(async ({ output }: { output: OutputFormat }) => {
        const users = await connect().listUsers();
        if (output === "json") printJson(users);
        else process.stdout.write(`${renderText(usersTable(users))}\n`);
        return 0;
      }),
    );

  user
    .command("role")
    .description("change a user's role; it applies to their next request")
    .addArgument(emailArgument())
    .addArgument(new Argument("<role>", "their new role").choices(ROLES))
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([["gpuctl user role bob@example.com admin", "from their next request"]]),
    )
    .action(
      action(async (email: string, role: Role, { output }: { output: OutputFormat }) => {
        const changed = await connect().setRole(email, role);
        if (output === "json") printJson(changed);
        else process.stdout.write(`${changed.email} is now ${changed.role}\n`);
        return 0;
      }),
    );

  user
    .command("remove")
    .description(
      "remove a user: their tokens stop working at once, their unfinished jobs are canceled, their ended jobs stay",
    )
    .addArgument(emailArgument())
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([["gpuctl user remove bob@example.com", "their tokens stop working at once"]]),
    )
    .action(
      action(async (email: string, { output }: { output: OutputFormat }) => {
        const removed = await connect().removeUser(email);
        if (output === "json") printJson(removed);
        else
          process.stdout.write(
            `removed ${removed.email}; their tokens no longer work; ${removed.canceledJobs} of their jobs canceled\n`,
          );
        return 0;
      }),
    );
};
