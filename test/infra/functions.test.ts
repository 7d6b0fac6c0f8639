import { type CfnElement, Stack } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { INDEX } from "../../lambdas/adapters/aws/dynamodb/schema.ts";
import { readEnvironment } from "../../lambdas/adapters/aws/environment.ts";
import {
  environmentKinds,
  handlerNeeds,
  LAMBDA_ENTRIES,
  type LambdaName,
  variableNames,
} from "../../lib/constructs/functions.ts";
import { ACCOUNT, AGENT_ENDPOINT, REGION, synthesizeFunctionsStack } from "./functions-stack.ts";
import { flat } from "./template-refs.ts";

// Synthesized once: cdk-nag's checks and CDK's template rules run here, and throw on a finding.
const { stack, storage, artifacts, eventBus, functions, template } = synthesizeFunctionsStack();
const NAMES = Object.keys(LAMBDA_ENTRIES) as LambdaName[];
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const idOf = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionOf = (name: LambdaName) => {
  const resource = resources[idOf(functions.functions[name])];
  if (!resource) throw new Error(`no function ${name}`);
  return resource.Properties;
};

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const list = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);

/** Each action its role allows, with each resource, as `action resource`. */
const allowedOf = (name: LambdaName) => {
  const roleId = (functionOf(name).Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0];
  const statements = Object.values(resources)
    .filter(
      ({ Type, Properties }) =>
        Type === "AWS::IAM::Policy" &&
        list(Properties.Roles as unknown[]).some((role) => flat(role) === `<${roleId}>`),
    )
    .flatMap(
      ({ Properties }) => (Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
  expect(statements.every(({ Effect }) => Effect === "Allow")).toBe(true);
  return new Set(
    statements.flatMap(({ Action, Resource }) =>
      list(Action).flatMap((action) =>
        list(Resource).map((resource) => `${action} ${flat(resource)}`),
      ),
    ),
  );
};

const pairs = (actions: string[], resourceArns: string[]) =>
  actions.flatMap((action) => resourceArns.map((resource) => `${action} ${resource}`));

const table = `<${idOf(storage.table)}.Arn>`;
const index = (name: string) => `${table}/index/${name}`;
const bucket = `<${idOf(artifacts.bucket)}.Arn>`;
const machine = (name: string) =>
  `arn:<AWS::Partition>:states:${REGION}:${ACCOUNT}:stateMachine:Gpuctl-${name}`;
const COOLING_TIMER_STOPS = `states:StopExecution ${machine("instance-cooling").replace(":stateMachine:", ":execution:")}:*`;
const TABLE_WRITES = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];

/** What each port's adapter calls, on what (docs/aws.md): the oracle the roles are held to. */
const PORT_GRANTS: Record<string, string[]> = {
  jobs: [
    ...pairs(["dynamodb:GetItem", ...TABLE_WRITES], [table]),
    ...pairs(["dynamodb:Query"], [table, index(INDEX.byOwner), index(INDEX.byStatus)]),
  ],
  instances: [
    ...pairs(["dynamodb:GetItem", ...TABLE_WRITES], [table]),
    ...pairs(["dynamodb:Query"], [index("gsi1"), index("gsi2"), index("gsi3")]),
  ],
  pools: pairs(["dynamodb:GetItem", "dynamodb:PutItem"], [table]),
  users: [
    ...pairs(["dynamodb:GetItem", ...TABLE_WRITES], [table]),
    ...pairs(["dynamodb:Query"], [index(INDEX.byOwner)]),
  ],
  artifacts: [
    ...pairs(["s3:GetObject", "s3:PutObject"], [`${bucket}/inputs/*`, `${bucket}/jobs/*`]),
    ...pairs(["s3:ListBucket"], [bucket]),
  ],
  events: pairs(["events:PutEvents"], [`<${idOf(eventBus)}.Arn>`]),
  workflows: [
    ...pairs(
      ["states:StartExecution"],
      ["job-lifecycle", "job-deadline", "instance-cooling"].map(machine),
    ),
    ...pairs(
      ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
      [machine("job-lifecycle")],
    ),
  ],
  coolingTimers: [COOLING_TIMER_STOPS],
  commands: pairs(
    ["sqs:CreateQueue", "sqs:TagQueue", "sqs:GetQueueUrl", "sqs:SendMessage", "sqs:DeleteQueue"],
    [`arn:<AWS::Partition>:sqs:${REGION}:${ACCOUNT}:Gpuctl-*`],
  ),
  compute: [`ec2:StopInstances arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`],
  agent: [`secretsmanager:GetSecretValue <${idOf(functions.agentSecret)}>`],
};

/** The one function that launches and starts instances, beyond its compute port's grant. */
const LAUNCHER: LambdaName = "AcquireInstanceFunction";
const LAUNCH_GRANTS = [`ec2:RunInstances arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`];

/** The one function that reboots instances, whose agent went silent, beyond its compute port's grant. */
const RESTARTER: LambdaName = "SilentAgentFunction";
const RESTART_GRANTS = [`ec2:RebootInstances arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`];

/** What a Lambda needs whatever its ports: its own log group, and X-Ray's traces. */
const baseGrants = (name: LambdaName) => [
  ...pairs(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
  ...pairs(
    ["logs:CreateLogStream", "logs:PutLogEvents"],
    [
      flat((functionOf(name).LoggingConfig as { LogGroup: unknown }).LogGroup).replace(
        ">",
        ".Arn>",
      ),
    ],
  ),
];

/** Plausible values for the tokens a function's variables hold, to read them as its entry does. */
const deployed = (value: unknown) =>
  flat(value)
    .replace("<AWS::Partition>", "aws")
    .replace(
      `<${idOf(functions.agentSecret)}>`,
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:agent-AbCdEf`,
    )
    .replace(/<[^>]+>/g, "resolved-name");

describe("the functions", () => {
  it("are one per entry file, Node.js 22 on arm64, traced, each logging to its own group", () => {
    const lambdas = Object.values(resources).filter(({ Type }) => Type === "AWS::Lambda::Function");
    expect(lambdas).toHaveLength(NAMES.length);
    const logGroups = new Set<string>();
    for (const name of NAMES) {
      const fn = functionOf(name);
      expect(fn).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
      });
      const logGroup = flat((fn.LoggingConfig as { LogGroup: unknown }).LogGroup);
      logGroups.add(logGroup);
      expect(resources[logGroup.slice(1, -1)]?.Properties).toMatchObject({ RetentionInDays: 30 });
    }
    expect(logGroups.size).toBe(NAMES.length);
    expect(functionOf("ApiFunction")).toMatchObject({ Timeout: 29 });
    expect(functionOf("AcquireInstanceFunction")).toMatchObject({ Timeout: 900 });
  });

  it.each(NAMES)(
    "%s has exactly the variables of its ports and settings, which its entry reads",
    (name) => {
      const variables = functionOf(name).Environment as { Variables: Record<string, unknown> };
      const kinds = environmentKinds(name);
      const expected = variableNames(kinds).filter((variable) => variable !== "AWS_REGION");
      expect(Object.keys(variables.Variables).sort()).toEqual(expected.sort());
      const values = Object.fromEntries(
        Object.entries(variables.Variables).map(([variable, value]) => [variable, deployed(value)]),
      );
      expect(() => readEnvironment(kinds, { ...values, AWS_REGION: REGION })).not.toThrow();
    },
  );

  it("hand the settings as docs/aws.md's table says: agents' endpoint and secret, the API the instance role", () => {
    const variables = (name: LambdaName) =>
      Object.keys((functionOf(name).Environment as { Variables: object }).Variables);
    expect(variables("AcquireInstanceFunction")).toEqual(
      expect.arrayContaining([
        "TABLE_NAME",
        "EVENT_BUS_NAME",
        "LAUNCH_TEMPLATE_ID",
        "COMMAND_QUEUE_PREFIX",
        "CONTROL_PLANE_NAME",
        "AGENT_ENDPOINT",
        "AGENT_SECRET_ARN",
      ]),
    );
    expect(variables("RequestReviewFunction").sort()).toEqual(["EVENT_BUS_NAME", "TABLE_NAME"]);
    expect(variables("ApiFunction")).toContain("AGENT_ROLE_NAME");
    expect(functionOf("DispatchStepFunction")).toMatchObject({
      Environment: { Variables: { AGENT_ENDPOINT, SUBNET_IDS: "subnet-0aaa,subnet-0bbb" } },
    });
    const withEndpoint = NAMES.filter((name) => variables(name).includes("AGENT_ENDPOINT"));
    expect(withEndpoint.sort()).toEqual(
      ["AcquireInstanceFunction", "ApiFunction", "DispatchStepFunction"].sort(),
    );
  });

  it.each(NAMES)(
    "%s's role allows exactly the actions of its ports, on their resources",
    (name) => {
      const { ports, settings } = handlerNeeds(name);
      const expected = new Set([
        ...baseGrants(name),
        ...[...ports, ...settings].flatMap((need) => PORT_GRANTS[need] ?? []),
        ...(name === LAUNCHER ? LAUNCH_GRANTS : []),
        ...(name === RESTARTER ? RESTART_GRANTS : []),
      ]);
      expect([...allowedOf(name)].sort()).toEqual([...expected].sort());
    },
  );

  it("give the first admin's bootstrap the users' items and nothing else: no job, instance, file, queue or secret", () => {
    expect(handlerNeeds("BootstrapAdminFunction")).toEqual({
      ports: ["users", "passwords", "clock"],
      settings: [],
    });
    expect([...allowedOf("BootstrapAdminFunction")].sort()).toEqual(
      [...baseGrants("BootstrapAdminFunction"), ...(PORT_GRANTS.users ?? [])].sort(),
    );
    const variables = functionOf("BootstrapAdminFunction").Environment as {
      Variables: Record<string, unknown>;
    };
    expect(Object.keys(variables.Variables)).toEqual(["TABLE_NAME"]);
  });

  it("let AcquireInstance stop cooling timers and do nothing else with Step Functions; no other function stops an execution", () => {
    const stepFunctions = (name: LambdaName) =>
      [...allowedOf(name)].filter((grant) => grant.startsWith("states:"));
    expect(stepFunctions("AcquireInstanceFunction")).toEqual([COOLING_TIMER_STOPS]);
    expect(
      NAMES.filter((name) =>
        stepFunctions(name).some((grant) => grant.startsWith("states:StopExecution")),
      ),
    ).toEqual(["AcquireInstanceFunction"]);
    const variables = functionOf("AcquireInstanceFunction").Environment as {
      Variables: Record<string, unknown>;
    };
    expect(
      Object.keys(variables.Variables).filter((variable) => variable.endsWith("_MACHINE_ARN")),
    ).toEqual(["INSTANCE_COOLING_STATE_MACHINE_ARN"]);
  });

  it("let the API function look tokens up and count failed sign-ins, as its users port does", () => {
    const allowed = allowedOf("ApiFunction");
    for (const grant of PORT_GRANTS.users ?? []) expect(allowed).toContain(grant);
    // Failed sign-ins are counted with a conditional put; tokens are read by their hash.
    expect(allowed).toContain(`dynamodb:GetItem ${table}`);
    expect(allowed).toContain(`dynamodb:PutItem ${table}`);
    expect([...allowed].filter((grant) => grant.startsWith("cognito"))).toEqual([]);
  });

  it("give each function a role of its own with no managed policy", () => {
    const roles = NAMES.map((name) => flat(functionOf(name).Role));
    expect(new Set(roles).size).toBe(NAMES.length);
    for (const { Type, Properties } of Object.values(resources))
      if (Type === "AWS::IAM::Role") expect(Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("allow no action by wildcard in any policy", () => {
    const actions = Object.values(resources)
      .filter(({ Type }) => Type === "AWS::IAM::Policy" || Type === "AWS::IAM::Role")
      .flatMap(({ Properties }) => [
        Properties.PolicyDocument,
        ...((Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map(
          (policy) => policy.PolicyDocument,
        ),
      ])
      .flatMap((document) => (document as { Statement?: Statement[] } | undefined)?.Statement ?? [])
      .flatMap(({ Action }) => list(Action));
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
  });

  it("generate the agents' secret, readable by the functions whose settings need it alone", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    const readers = NAMES.filter((name) =>
      [...allowedOf(name)].some((grant) => grant.startsWith("secretsmanager:")),
    );
    expect(readers.sort()).toEqual(
      NAMES.filter((name) => environmentKinds(name).includes("agent")).sort(),
    );
    expect(Stack.of(functions).resolve(functions.agentSecret.secretArn)).toEqual({
      Ref: idOf(functions.agentSecret),
    });
  });
});
