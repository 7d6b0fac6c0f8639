import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import type { Command } from "commander";
import type { BootstrapAnswer } from "../../lambdas/handlers/events/bootstrap-admin.ts";
import { configPath, writeConfig } from "../../sdk/config.ts";
import { examples } from "./help.ts";
import { action } from "./run.ts";

/** The stack outputs (lib/control-plane-stack.ts) the bootstrap reads. */
const OUTPUTS = { endpoint: "ApiUrl", function: "BootstrapAdminFunctionName" } as const;

export interface BootstrapOptions {
  email: string;
  /** The stack whose outputs name the function and the endpoint. */
  stack?: string;
  /** The function's name or ARN, instead of the stack's output. */
  function?: string;
  /** The API's URL, instead of the stack's output. */
  endpoint?: string;
  /** The CLI config written: GPUCTL_CONFIG or ~/.gpuctl/config.json. */
  configFile?: string;
}

export interface AdminClients {
  lambda: LambdaClient;
  cloudFormation: CloudFormationClient;
}

/** A bootstrap that cannot go on: the message says why and what to do. */
export class BootstrapError extends Error {
  override name = "BootstrapError";
}

const NO_CREDENTIALS =
  "no AWS credentials: the bootstrap runs with your own (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";

/** The SDK's errors an operator can act on, in their words; any other is thrown as it is. */
const explain = (error: unknown, what: string): unknown => {
  if (!(error instanceof Error)) return error;
  if (error.name === "CredentialsProviderError") return new BootstrapError(NO_CREDENTIALS);
  if (/region is missing/i.test(error.message))
    return new BootstrapError("no AWS region: pass --region, or set AWS_REGION");
  if (error instanceof ResourceNotFoundException)
    return new BootstrapError(
      `${what} not found in this account and region: deploy the stack (npx cdk deploy), or check --function and --region`,
    );
  if (error.name === "ValidationError" && /does not exist/.test(error.message))
    return new BootstrapError(
      `${what} not found in this account and region: check --stack and --region`,
    );
  return error;
};

/** The function and endpoint to use: those given, else the stack's outputs. */
const target = async (options: BootstrapOptions, clients: AdminClients) => {
  let outputs: Record<string, string | undefined> = {};
  if (options.stack) {
    const described = await clients.cloudFormation
      .send(new DescribeStacksCommand({ StackName: options.stack }))
      .catch((error: unknown) => {
        throw explain(error, `stack ${options.stack}`);
      });
    outputs = Object.fromEntries(
      (described.Stacks?.[0]?.Outputs ?? []).map((output) => [
        output.OutputKey,
        output.OutputValue,
      ]),
    );
  }
  const functionName = options.function ?? outputs[OUTPUTS.function];
  const endpoint = options.endpoint ?? outputs[OUTPUTS.endpoint];
  const missing = `stack ${options.stack} has no output`;
  if (!functionName)
    throw new BootstrapError(
      options.stack
        ? `${missing} ${OUTPUTS.function}: deploy this version of gpuctl's stack, or pass --function`
        : "name the stack (--stack) or the function (--function)",
    );
  if (!endpoint)
    throw new BootstrapError(
      options.stack
        ? `${missing} ${OUTPUTS.endpoint}: pass --endpoint`
        : "--endpoint: the API's URL (the stack's ApiUrl output) is needed with --function",
    );
  return { functionName, endpoint };
};

/**
 * Makes the installation's first admin through the stack's BootstrapAdminFunction, invoked
 * with the operator's own AWS credentials, and writes the CLI config with that admin's
 * first access token (shown nowhere else). Refused once the installation has users.
 */
export const bootstrapAdmin = async (options: BootstrapOptions, clients: AdminClients) => {
  const { functionName, endpoint } = await target(options, clients);
  const invoked = await clients.lambda
    .send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify({ email: options.email })),
      }),
    )
    .catch((error: unknown) => {
      throw explain(error, `function ${functionName}`);
    });
  const text = new TextDecoder().decode(invoked.Payload ?? new Uint8Array());
  if (invoked.FunctionError)
    throw new BootstrapError(`function ${functionName} failed (${invoked.FunctionError}): ${text}`);
  const answer = JSON.parse(text) as BootstrapAnswer;
  if (!answer.ok)
    throw new BootstrapError(
      [
        answer.message,
        ...(answer.fields ?? []).map(({ field, message }) => `${field}: ${message}`),
      ].join("; "),
    );
  const configFile = options.configFile ?? configPath();
  try {
    await writeConfig(configFile, { endpoint, token: answer.token });
  } catch (error) {
    // The token is shown this once: rather on the terminal than lost.
    throw new BootstrapError(
      `the first admin ${answer.email} was made, but ${configFile} could not be written (${(error as Error).message}); their token, shown this once: ${answer.token}`,
    );
  }
  return { email: answer.email, expiresAt: answer.expiresAt, endpoint, configFile };
};

/** `gpuctl admin bootstrap`: the first admin of an AWS installation. */
export const registerAdmin = (program: Command): void => {
  const admin = program
    .command("admin")
    .description("set up an installation on AWS")
    .addHelpText(
      "after",
      examples([["gpuctl admin bootstrap --stack Gpuctl --email alice@example.com"]]),
    );
  admin
    .command("bootstrap")
    .description(
      "make the first admin of a deployed stack, with your AWS credentials, and write the CLI config with their token",
    )
    .requiredOption("--email <email>", "the first admin's email")
    .option("--stack <name>", "the stack, whose outputs name the function and the endpoint")
    .option("--function <name>", "the BootstrapAdminFunction's name or ARN, instead of the stack's")
    .option("--endpoint <url>", "the API's URL, instead of the stack's ApiUrl output")
    .option("--region <region>", "the stack's region (else AWS_REGION or your profile's)")
    .addHelpText(
      "after",
      examples([
        [
          "gpuctl admin bootstrap --stack Gpuctl --email alice@example.com",
          "from the stack's outputs",
        ],
        ["gpuctl admin bootstrap --stack Gpuctl --email alice@example.com --region eu-west-1"],
      ]),
    )
    .action(
      action(async (options: BootstrapOptions & { region?: string }) => {
        const config = options.region ? { region: options.region } : {};
        const made = await bootstrapAdmin(options, {
          lambda: new LambdaClient(config),
          cloudFormation: new CloudFormationClient(config),
        });
        process.stdout.write(
          `first admin ${made.email} made; their token (valid until ${made.expiresAt}) and ${made.endpoint} written to ${made.configFile}\n`,
        );
        return 0;
      }),
    );
};
