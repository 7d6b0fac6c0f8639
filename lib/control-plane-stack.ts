import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { MachineImage } from "aws-cdk-lib/aws-ec2";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import type { InstanceAssets } from "../scripts/instance-assets.ts";
import type { ControlPlaneConfig } from "./config.ts";
import { Api } from "./constructs/api.ts";
import { Artifacts } from "./constructs/artifacts.ts";
import { Compute } from "./constructs/compute.ts";
import { Events } from "./constructs/events.ts";
import { Functions } from "./constructs/functions.ts";
import { Observability } from "./constructs/observability.ts";
import { Storage } from "./constructs/storage.ts";
import { Teardown } from "./constructs/teardown.ts";
import { Workflows } from "./constructs/workflows.ts";

export interface ControlPlaneStackProps extends StackProps {
  /** The installation's settings, from CDK context (lib/config.ts). */
  config: ControlPlaneConfig;
  /** The agent's bundle and the Node.js runtime the instances install. */
  assets: InstanceAssets;
}

/**
 * gpuctl in one account and region: jobs, instances and users in DynamoDB, files in S3, each
 * job's lifecycle in Step Functions, one Lambda per entry point, the HTTP API for users
 * (known by gpuctl's own access tokens) and agents, status events on a bus of its own, the
 * GPU instances' launch template and role, and the dashboards and alarms that watch them.
 * Nothing runs at rest (docs/deploy.md, "What it costs at rest").
 */
export class ControlPlaneStack extends Stack {
  readonly storage: Storage;
  readonly artifacts: Artifacts;
  readonly events: Events;
  readonly compute: Compute;
  readonly functions: Functions;
  readonly api: Api;
  readonly workflows: Workflows;
  readonly observability: Observability;
  readonly teardown: Teardown;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { config, assets } = props;
    // Instances and queues carry the stack's name: two installations in one account never
    // touch each other's. The queues' prefix names what they are, so that no queue of the
    // stack's own (its dead letters) falls under the functions' grant on command queues.
    const controlPlaneName = this.stackName;
    const queueNamePrefix = `${this.stackName}-commands-`;

    this.storage = new Storage(this, "Storage");
    this.artifacts = new Artifacts(this, "Artifacts");
    this.events = new Events(this, "Events");
    this.compute = new Compute(this, "Compute", {
      controlPlaneName,
      queueNamePrefix,
      ...(config.vpcId && config.subnetIds
        ? { network: { vpcId: config.vpcId, subnetIds: config.subnetIds } }
        : {}),
      machineImage: MachineImage.fromSsmParameter(config.amiParameter),
      agentBundlePath: assets.agentBundlePath,
      nodeRuntimePath: assets.nodeRuntimePath,
      rootVolumeGiB: config.rootVolumeGiB,
      rootDeviceName: config.rootDeviceName,
      instanceTypes: config.instanceTypes,
      spot: config.spot,
    });
    this.functions = new Functions(this, "Functions", {
      // CDK's own classes miss their interfaces under exactOptionalPropertyTypes; they are them.
      table: this.storage.table as ITable,
      bucket: this.artifacts.bucket as IBucket,
      eventBus: this.events.bus as IEventBus,
      controlPlaneName,
      queueNamePrefix,
      instanceTypes: config.instanceTypes,
      spotAllowed: config.spot,
      cooling: {
        defaultWarmS: config.coolingDefaultMinutes * 60,
        maxWarmS: config.coolingMaxMinutes * 60,
      },
      compute: this.compute,
    });
    const lambdas = this.functions.functions;
    this.api = new Api(this, "Api", { handler: lambdas.ApiFunction });
    this.functions.setAgentEndpoint(this.api.url);
    this.compute.allowAgentApi(this.api.agentRoutesArn);
    this.workflows = new Workflows(this, "Workflows", { functions: this.functions });
    this.events.routeEc2Events(lambdas.Ec2EventsFunction);
    this.events.routeCoolingExecutionEnded(
      lambdas.CoolingExecutionEndedFunction,
      this.workflows.arns["instance-cooling"],
    );
    this.events.scheduleReaper(lambdas.ReaperFunction);
    this.teardown = new Teardown(this, "Teardown", {
      handler: lambdas.TeardownFunction,
      dependsOn: [this.compute],
      launchers: [...Object.values(this.workflows.machines), lambdas.AcquireInstanceFunction],
    });
    // The teardown runs once, as the stack goes, and the first admin's bootstrap once, by
    // hand: no dashboard watches them.
    const { TeardownFunction: _teardown, BootstrapAdminFunction: _bootstrap, ...watched } = lambdas;
    this.observability = new Observability(this, "Observability", {
      functions: watched,
      stateMachines: this.workflows.machines,
      deadLetterQueue: this.events.deadLetters,
      monthlyBudgetUsd: config.monthlyBudgetUsd,
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("ApiUrl", this.api.url, "The endpoint for the CLI and SDK (GPUCTL_ENDPOINT)");
    output(
      "BootstrapAdminFunctionName",
      lambdas.BootstrapAdminFunction.functionName,
      "Makes the first admin, once: npx gpuctl admin bootstrap --stack STACK --email EMAIL",
    );
    output(
      "JobEndedTopicArn",
      this.events.terminalStatuses.topicArn,
      "Subscribe to hear when a job ends",
    );
    output(
      "AlarmTopicArn",
      this.observability.alarmTopic.topicArn,
      "Subscribe to hear of stuck jobs, orphan instances, dead letters and the budget",
    );
    output("ArtifactsBucket", this.artifacts.bucket.bucketName, "Job inputs and results");
  }
}
