import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AttributeType, Table } from "aws-cdk-lib/aws-dynamodb";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { TABLE_SCHEMA } from "../../lambdas/adapters/aws/dynamodb/schema.ts";
import { INPUTS_PREFIX, JOBS_PREFIX } from "../../lambdas/domain/artifacts.ts";
import { ControlPlaneStack } from "../../lib/control-plane-stack.ts";

/** An app checked by cdk-nag's AWS Solutions pack, as bin/app.ts sets it up. */
const checkedApp = () => {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
};

describe("the control plane stack", () => {
  it("creates the table with the key schema and indexes the stores use", () => {
    const template = Template.fromStack(new ControlPlaneStack(new App(), "Gpuctl"));
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: "HASH" },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
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
    const template = Template.fromStack(new ControlPlaneStack(new App(), "Gpuctl"));
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

  it("passes cdk-nag's AWS Solutions checks", () => {
    const app = checkedApp();
    new ControlPlaneStack(app, "Gpuctl");
    expect(() => app.synth()).not.toThrow();
  });

  it("would be stopped by those checks if a table lost its backups", () => {
    const app = checkedApp();
    const stack = new Stack(app, "Careless");
    new Table(stack, "Table", { partitionKey: { name: "pk", type: AttributeType.STRING } });
    expect(() => app.synth()).toThrow(/AwsSolutions-DDB3/);
  });
});
