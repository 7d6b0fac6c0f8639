import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { bootstrapAdmin } from "../../../bin/cli/admin.ts";
import type { BootstrapAnswer } from "../../../lambdas/handlers/events/bootstrap-admin.ts";

const lambda = mockClient(LambdaClient);
const cloudFormation = mockClient(CloudFormationClient);
const fake = { region: "eu-west-1", credentials: { accessKeyId: "AKID", secretAccessKey: "x" } };
const clients = { lambda: new LambdaClient(fake), cloudFormation: new CloudFormationClient(fake) };

const FUNCTION = "Gpuctl-FunctionsBootstrapAdminFunction-AbC123";
const ENDPOINT = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com";
const TOKEN = `gpuctl_${"A".repeat(43)}`;

const answering = (answer: BootstrapAnswer) =>
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(answer)) as never,
  });

const stackOutputs = () =>
  cloudFormation.on(DescribeStacksCommand, { StackName: "Gpuctl" }).resolves({
    Stacks: [
      {
        StackName: "Gpuctl",
        CreationTime: new Date(),
        StackStatus: "CREATE_COMPLETE",
        Outputs: [
          { OutputKey: "ApiUrl", OutputValue: ENDPOINT },
          { OutputKey: "BootstrapAdminFunctionName", OutputValue: FUNCTION },
        ],
      },
    ],
  });

let configFile: string;
beforeEach(async () => {
  lambda.reset();
  cloudFormation.reset();
  configFile = join(await mkdtemp(join(tmpdir(), "gpuctl-admin-")), "config.json");
});

describe("gpuctl admin bootstrap", () => {
  it("invokes the stack's function with the email and writes the endpoint and the admin's token, for its owner only", async () => {
    stackOutputs();
    answering({
      ok: true,
      email: "root@example.org",
      userId: "u-1",
      token: TOKEN,
      expiresAt: "2027-01-01T00:00:00.000Z",
    });
    const made = await bootstrapAdmin(
      { email: "Root@Example.org", stack: "Gpuctl", configFile },
      clients,
    );
    expect(made).toEqual({
      email: "root@example.org",
      expiresAt: "2027-01-01T00:00:00.000Z",
      endpoint: ENDPOINT,
      configFile,
    });
    const [invoke] = lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);
    expect(invoke?.FunctionName).toBe(FUNCTION);
    expect(JSON.parse(new TextDecoder().decode(invoke?.Payload as Uint8Array))).toEqual({
      email: "Root@Example.org",
    });
    expect(JSON.parse(await readFile(configFile, "utf8"))).toEqual({
      endpoint: ENDPOINT,
      token: TOKEN,
    });
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
  });

  it("takes the function and the endpoint given, without the stack", async () => {
    answering({ ok: true, email: "a@example.org", userId: "u", token: TOKEN, expiresAt: "x" });
    await bootstrapAdmin(
      { email: "a@example.org", function: "mine", endpoint: ENDPOINT, configFile },
      clients,
    );
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: "mine" });
    await expect(
      bootstrapAdmin({ email: "a@example.org", function: "mine", configFile }, clients),
    ).rejects.toThrow(/--endpoint: the API's URL/);
    await expect(bootstrapAdmin({ email: "a@example.org", configFile }, clients)).rejects.toThrow(
      "name the stack (--stack) or the function (--function)",
    );
  });

  it("says so when the installation has its first admin already, and writes no config", async () => {
    stackOutputs();
    answering({
      ok: false,
      error: "CONFLICT",
      message: "the first admin exists already: an admin adds the others (gpuctl user add)",
    });
    await expect(
      bootstrapAdmin({ email: "late@example.org", stack: "Gpuctl", configFile }, clients),
    ).rejects.toThrow("the first admin exists already: an admin adds the others (gpuctl user add)");
    await expect(stat(configFile)).rejects.toThrow(/ENOENT/);
  });

  it("names the field of a refused email", async () => {
    stackOutputs();
    answering({
      ok: false,
      error: "VALIDATION",
      message: "invalid user",
      fields: [{ field: "email", message: "must be an email address" }],
    });
    await expect(
      bootstrapAdmin({ email: "nobody", stack: "Gpuctl", configFile }, clients),
    ).rejects.toThrow("invalid user; email: must be an email address");
  });

  it("says what to check when the function or the stack is not there", async () => {
    lambda
      .on(InvokeCommand)
      .rejects(
        new ResourceNotFoundException({ $metadata: {}, message: "Function not found: mine" }),
      );
    await expect(
      bootstrapAdmin(
        { email: "a@example.org", function: "mine", endpoint: ENDPOINT, configFile },
        clients,
      ),
    ).rejects.toThrow(/function mine not found in this account and region: deploy the stack/);
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error("Stack with id Nope does not exist"), { name: "ValidationError" }),
      );
    await expect(
      bootstrapAdmin({ email: "a@example.org", stack: "Nope", configFile }, clients),
    ).rejects.toThrow(
      /stack Nope not found in this account and region: check --stack and --region/,
    );
  });

  it("says the operator's own AWS credentials are needed when there are none", async () => {
    lambda.on(InvokeCommand).rejects(
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
    );
    await expect(
      bootstrapAdmin(
        { email: "a@example.org", function: "mine", endpoint: ENDPOINT, configFile },
        clients,
      ),
    ).rejects.toThrow(/^no AWS credentials: the bootstrap runs with your own/);
  });

  it("reports a function that failed, with what it said", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: new TextEncoder().encode('{"errorMessage":"TABLE_NAME missing"}') as never,
    });
    await expect(
      bootstrapAdmin(
        { email: "a@example.org", function: "mine", endpoint: ENDPOINT, configFile },
        clients,
      ),
    ).rejects.toThrow(/function mine failed \(Unhandled\): .*TABLE_NAME missing/);
  });
});
