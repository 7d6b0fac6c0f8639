import { Stack, Validations } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import { Construct } from "constructs";
import { INDEX } from "../../lambdas/adapters/aws/dynamodb/schema.ts";
import { executionArnOf } from "../../lambdas/adapters/aws/sfn/step-functions-rules.ts";
import { INPUTS_PREFIX, JOBS_PREFIX } from "../../lambdas/domain/artifacts.ts";
import type { StateMachineName } from "../../lambdas/ports.ts";
import type { PortName, SettingName } from "../../lambdas/use-cases/control-plane.ts";

/** What the ports' adapters act on: the resources a function's role is granted on. */
export interface PortResources {
  table: ITable;
  bucket: IBucket;
  eventBus: IEventBus;
  /** Built from the machines' names, never their `Ref`: the machines invoke these functions. */
  stateMachineArns: Record<StateMachineName, string>;
  /** `arn:PARTITION:sqs:REGION:ACCOUNT:<queue prefix>*`: every instance's command queue. */
  commandQueuesArn: string;
  agentSecret: { readonly secretArn: string };
  /** The compute port's EC2 actions every holder needs (launching is granted apart), conditioned on the control plane's tag. */
  grantManage: (grantee: IGrantable) => void;
}

/**
 * Acknowledges cdk-nag's IAM5 finding on one resource pattern of the grantee's policy, by
 * the name cdk-nag gives it (its own flattening of the ARN's tokens).
 */
export const acknowledgeWildcard = (grantee: IGrantable, resourceArn: string, reason: string) => {
  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) return;
  const resource = flattenCfnReference(Stack.of(principal).resolve(resourceArn));
  Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
};

/** Allows the actions on the resources; a pattern among them (`*`) is acknowledged with `why`. */
const allow = (grantee: IGrantable, actions: string[], resourceArns: string[], why?: string) => {
  Grant.addToPrincipal({ grantee, actions, resourceArns });
  if (why)
    for (const arn of resourceArns)
      if (arn.includes("*")) acknowledgeWildcard(grantee, arn, `${actions.join(", ")}: ${why}`);
};

/**
 * The IAM actions each port's AWS adapter calls, and each setting's builder, on the
 * resources it owns (docs/aws.md, each adapter's section): a function gets those of the
 * ports and settings its handler needs, and no others. `tsc` refuses a port without an entry.
 */
export const portGrants = (
  resources: PortResources,
): Record<PortName | SettingName, (grantee: IGrantable) => void> => {
  const { table, bucket } = resources;
  const indexes = (...names: string[]) => names.map((name) => `${table.tableArn}/index/${name}`);
  // A TransactWriteItems call is authorized item by item, as the Put, Update or Delete it holds.
  const tableWrites = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
  const queues =
    (...actions: string[]) =>
    (grantee: IGrantable) =>
      allow(
        grantee,
        actions.map((action) => `sqs:${action}`),
        [resources.commandQueuesArn],
        "a queue is created per instance at run time, named by the control plane's prefix and the instance's id; the prefix is this installation's alone",
      );
  return {
    jobs: (grantee) => {
      allow(grantee, ["dynamodb:GetItem", ...tableWrites], [table.tableArn]);
      // A job's events on the table; jobs by owner (gsi1) and by phase (gsi3).
      allow(
        grantee,
        ["dynamodb:Query"],
        [table.tableArn, ...indexes(INDEX.byOwner, INDEX.byStatus)],
      );
    },
    instances: (grantee) => {
      // An instance's change is written with its job's in one transaction.
      allow(grantee, ["dynamodb:GetItem", ...tableWrites], [table.tableArn]);
      allow(
        grantee,
        ["dynamodb:Query"],
        indexes(...new Set([INDEX.byProviderId, INDEX.byPool, INDEX.byStatus])),
      );
    },
    pools: (grantee) => allow(grantee, ["dynamodb:GetItem", "dynamodb:PutItem"], [table.tableArn]),
    // Users, tokens and failed sign-ins; the first token is written with its user in one
    // transaction; users and each user's tokens are listed on gsi1.
    users: (grantee) => {
      allow(grantee, ["dynamodb:GetItem", ...tableWrites], [table.tableArn]);
      allow(grantee, ["dynamodb:Query"], indexes(INDEX.byOwner));
    },
    // scrypt runs in the function itself.
    passwords: () => {},
    artifacts: (grantee) => {
      // Presigned URLs carry their signer's rights; HeadObject needs s3:GetObject.
      allow(
        grantee,
        ["s3:GetObject", "s3:PutObject"],
        [bucket.arnForObjects(`${INPUTS_PREFIX}*`), bucket.arnForObjects(`${JOBS_PREFIX}*`)],
        "keys are made at run time (an input's SHA-256, a job's id and its files' paths); the grant stops at the two prefixes of keys the control plane hands out",
      );
      // Without it HeadObject answers a missing key 403, not 404. No s3:prefix condition:
      // that check's request has no prefix, so the condition would refuse it, and the
      // bucket holds nothing but inputs and results.
      allow(grantee, ["s3:ListBucket"], [bucket.bucketArn]);
    },
    events: (grantee) => allow(grantee, ["events:PutEvents"], [resources.eventBus.eventBusArn]),
    workflows: (grantee) => {
      const arns = resources.stateMachineArns;
      allow(grantee, ["states:StartExecution"], Object.values(arns));
      allow(
        grantee,
        ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        [arns["job-lifecycle"]],
      );
    },
    // A claimed instance's cooling timer is stopped; no other execution is.
    coolingTimers: (grantee) =>
      allow(
        grantee,
        ["states:StopExecution"],
        [executionArnOf(resources.stateMachineArns["instance-cooling"], "*")],
        "an execution's name is made at run time (its instance and cooling period); the grant stops at the cooling machine's executions",
      ),
    // Open (at launch), push, close (at termination): one adapter, one grant.
    commands: queues("CreateQueue", "TagQueue", "GetQueueUrl", "SendMessage", "DeleteQueue"),
    compute: resources.grantManage,
    // Embedded metric format: metrics leave through the function's own log group.
    metrics: () => {},
    clock: () => {},
    region: () => {},
    costModel: () => {},
    cooling: () => {},
    spotAllowed: () => {},
    agent: (grantee) =>
      allow(grantee, ["secretsmanager:GetSecretValue"], [resources.agentSecret.secretArn]),
  };
};
