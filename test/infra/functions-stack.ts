/**
 * A stack of the functions and workflows on the real storage, artifacts and an event bus,
 * with a stand-in for the compute construct, synthesized once under cdk-nag's AWS
 * Solutions checks and CDK's default template rules (a circular dependency, F3004, is an
 * error there, not a warning).
 */
import { App, Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { EventBus, type IEventBus } from "aws-cdk-lib/aws-events";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { Artifacts } from "../../lib/constructs/artifacts.ts";
import { type ComputeForFunctions, Functions } from "../../lib/constructs/functions.ts";
import { acknowledgeWildcard } from "../../lib/constructs/permissions.ts";
import { Storage } from "../../lib/constructs/storage.ts";
import { Workflows } from "../../lib/constructs/workflows.ts";

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";
export const AGENT_ENDPOINT = "https://agents.example.com/";

const s3File = (key: string) => ({ bucket: "gpuctl-assets", key, sha256: "0".repeat(64) });

/** Each grantee of `grantManage`, `grantLaunch` and `grantRestart`, so a test can tell the compute grants from the others. */
export const computeGrantees: IGrantable[] = [];
export const launchGrantees: IGrantable[] = [];
export const restartGrantees: IGrantable[] = [];

const instances = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`;

/** What the Compute construct gives the functions, with one EC2 statement standing for each grant. */
export const fakeCompute: ComputeForFunctions = {
  launchTemplateId: "lt-0123456789abcdef0",
  launchTemplateVersion: "1",
  subnetIds: ["subnet-0aaa", "subnet-0bbb"],
  instanceRoleName: "gpuctl-agent",
  agentBundle: s3File("agent.mjs"),
  nodeRuntime: s3File("node.tar.xz"),
  grantManage: (grantee) => {
    computeGrantees.push(grantee);
    Grant.addToPrincipal({ grantee, actions: ["ec2:StopInstances"], resourceArns: [instances] });
    acknowledgeWildcard(grantee, instances, "stand-in for the compute construct's grant");
  },
  grantLaunch: (grantee) => {
    launchGrantees.push(grantee);
    Grant.addToPrincipal({ grantee, actions: ["ec2:RunInstances"], resourceArns: [instances] });
  },
  grantRestart: (grantee) => {
    restartGrantees.push(grantee);
    Grant.addToPrincipal({ grantee, actions: ["ec2:RebootInstances"], resourceArns: [instances] });
  },
};

export const synthesizeFunctionsStack = () => {
  const app = new App({
    context: {
      // The bundles are test/unit/lambda/bundles.test.ts's, with the same options.
      "aws:cdk:bundling-stacks": [],
      "aws:cdk:enable-path-metadata": true,
      "@aws-cdk/core:validateAgainstDefaultRules": true,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, "Gpuctl", { env: { account: ACCOUNT, region: REGION } });
  const storage = new Storage(stack, "Storage");
  const artifacts = new Artifacts(stack, "Artifacts");
  const eventBus = new EventBus(stack, "Bus");
  const functions = new Functions(stack, "Functions", {
    table: storage.table as ITable,
    bucket: artifacts.bucket as IBucket,
    eventBus: eventBus as IEventBus,
    controlPlaneName: "Gpuctl",
    queueNamePrefix: "Gpuctl-",
    instanceTypes: ["g5.xlarge", "g6.xlarge"],
    spotAllowed: false,
    cooling: { defaultWarmS: 180, maxWarmS: 3600 },
    compute: fakeCompute,
  });
  functions.setAgentEndpoint(AGENT_ENDPOINT);
  const workflows = new Workflows(stack, "Workflows", { functions });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { stack, storage, artifacts, eventBus, functions, workflows, template };
};
