import { App, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import { AttributeType, Table } from "aws-cdk-lib/aws-dynamodb";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { TABLE_SCHEMA } from "../../lambdas/adapters/aws/dynamodb/schema.ts";
import { INPUTS_PREFIX, JOBS_PREFIX } from "../../lambdas/domain/artifacts.ts";
import { LAMBDA_ENTRIES } from "../../lambdas/handlers/lambda/entries.ts";
import { placeholders } from "../../lib/constructs/workflows.ts";
import { allowedActions } from "../fixtures/cdk.ts";
import { synthesizeControlPlane } from "./control-plane.ts";
import { synthesizedMachines } from "./synthesized-machines.ts";

/** An app checked by cdk-nag's AWS Solutions pack, as bin/app.ts sets it up. */
const checkedApp = () => {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
};

// Synthesized once, under cdk-nag and CDK's template rules: had either found a problem
// (an unacknowledged finding, a circular dependency), the synthesis would have thrown.
let template: Template;
let stack: Stack;
beforeAll(async () => {
  ({ template, stack } = await synthesizeControlPlane());
});

describe("the control plane stack", () => {
  it("creates the table with the key schema and indexes the stores use", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: "HASH" },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: TABLE_SCHEMA.globalSecondaryIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      })),
    });
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });

  it("keeps artifacts private, over TLS only, logged, with inputs expiring and no upload left half-way", () => {
    template.resourceCountIs("AWS::S3::Bucket", 2);
    const privateBucket = {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
    };
    template.allResourcesProperties("AWS::S3::Bucket", privateBucket);
    template.hasResourceProperties("AWS::S3::Bucket", {
      LoggingConfiguration: { LogFilePrefix: "artifacts/" },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: INPUTS_PREFIX, ExpirationInDays: 30, Status: "Enabled" }),
          Match.objectLike({
            Prefix: JOBS_PREFIX,
            Transitions: [{ StorageClass: "STANDARD_IA", TransitionInDays: 30 }],
          }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
    // Every bucket refuses a request without TLS.
    const policies = template.findResources("AWS::S3::BucketPolicy");
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: "Deny",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      );
    }
    template.allResources("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
  });

  it("synthesizes with no warning (a dashboard over the free tier's metrics is one)", () => {
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("grants no wildcard action in any policy", () => {
    const actions = allowedActions(template);
    expect(actions.length).toBeGreaterThan(50);
    expect(actions.filter((action) => action === "*" || action.endsWith(":*"))).toEqual([]);
  });

  it("gives every placeholder of every state machine a function of the stack", () => {
    const machines = synthesizedMachines(template);
    expect(machines.map(({ machine }) => machine).sort()).toEqual([
      "instance-cooling",
      "job-deadline",
      "job-lifecycle",
    ]);
    for (const { definition, substitutions } of machines) {
      expect(Object.keys(substitutions).sort()).toEqual(
        [...new Set(placeholders(definition))].sort(),
      );
      for (const [placeholder, fn] of Object.entries(substitutions)) {
        expect(fn.name).toBe(placeholder);
        expect(LAMBDA_ENTRIES[fn.name]).toBeDefined();
      }
    }
  });

  it("tells the platform engineer where the API, the first admin's bootstrap and the job-ended topic are", () => {
    for (const output of [
      "ApiUrl",
      "BootstrapAdminFunctionName",
      "JobEndedTopicArn",
      "ArtifactsBucket",
    ])
      template.hasOutput(output, {});
    template.hasOutput("BootstrapAdminFunctionName", {
      Value: { Ref: Match.stringLikeRegexp("^FunctionsBootstrapAdminFunction") },
    });
    for (const output of ["UserPoolId", "UserPoolClientId"])
      expect(template.findOutputs(output)).toEqual({});
  });

  it("keeps users in its own table: no Cognito, no JWT authorizer, the user routes open to the API function", () => {
    expect(
      Object.values(template.toJSON().Resources as Record<string, { Type: string }>).filter(
        ({ Type }) => Type.startsWith("AWS::Cognito::"),
      ),
    ).toEqual([]);
    template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 0);
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "ANY /v1/{proxy+}",
      AuthorizationType: "NONE",
    });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      RouteSettings: {
        "POST /v1/login": { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5 },
      },
    });
  });

  it("refuses the settings of an earlier stack's OIDC provider, saying tokens are gpuctl's own", async () => {
    await expect(
      synthesizeControlPlane({
        userIssuer: "https://login.example.com/",
        userAudience: "gpuctl-cli",
      }),
    ).rejects.toThrow(/userIssuer is no longer a setting: users sign in with gpuctl's own/);
  });

  it("uses the organisation's VPC when the context names it", async () => {
    const { template: custom, stack: customStack } = await synthesizeControlPlane({
      vpcId: "vpc-0123456789abcdef0",
      subnetIds: "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
    });
    custom.resourceCountIs("AWS::EC2::VPC", 0);
    expect(Annotations.fromStack(customStack).findWarning("*", Match.anyValue())).toEqual([]);
    expect(JSON.stringify(custom.toJSON())).toContain(
      "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
    );
  });

  it("hands the spot and cooling context to the API (submit) and the release task (cooling plan), and to no other function", async () => {
    /** Each function with any of the variables, by its construct name, with their values. */
    const settingsOf = (synthesized: Template) =>
      Object.fromEntries(
        Object.entries(synthesized.findResources("AWS::Lambda::Function")).flatMap(
          ([id, { Properties }]) => {
            const variables = Properties.Environment?.Variables ?? {};
            const read = ["SPOT_ALLOWED", "COOLING_DEFAULT_S", "COOLING_MAX_S"].filter(
              (name) => name in variables,
            );
            const name = id.replace(/^Functions/, "").replace(/[0-9A-F]{8}$/, "");
            return read.length
              ? [[name, Object.fromEntries(read.map((key) => [key, variables[key]]))]]
              : [];
          },
        ),
      );
    expect(settingsOf(template)).toEqual({
      ApiFunction: { SPOT_ALLOWED: "true", COOLING_DEFAULT_S: "180", COOLING_MAX_S: "3600" },
      ReleaseInstanceFunction: { COOLING_DEFAULT_S: "180", COOLING_MAX_S: "3600" },
    });
    const { template: strict } = await synthesizeControlPlane({
      spot: "false",
      coolingDefaultMinutes: "5",
      coolingMaxMinutes: 30,
    });
    expect(settingsOf(strict)).toEqual({
      ApiFunction: { SPOT_ALLOWED: "false", COOLING_DEFAULT_S: "300", COOLING_MAX_S: "1800" },
      ReleaseInstanceFunction: { COOLING_DEFAULT_S: "300", COOLING_MAX_S: "1800" },
    });
  });

  it("would be stopped by those checks if a table lost its backups", () => {
    const app = checkedApp();
    const stack = new Stack(app, "Careless");
    new Table(stack, "Table", { partitionKey: { name: "pk", type: AttributeType.STRING } });
    expect(() => app.synth()).toThrow(/AwsSolutions-DDB3/);
  });
});
