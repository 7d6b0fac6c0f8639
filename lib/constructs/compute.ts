import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Annotations, ArnFormat, Fn, Stack, Validations } from "aws-cdk-lib";
import {
  BlockDeviceVolume,
  type CfnLaunchTemplate,
  EbsDeviceVolumeType,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type IMachineImage,
  InstanceInitiatedShutdownBehavior,
  type IVpc,
  LaunchTemplate,
  LaunchTemplateHttpTokens,
  MachineImage,
  SecurityGroup,
  SubnetType,
  Vpc,
} from "aws-cdk-lib/aws-ec2";
import {
  type IGrantable,
  type IRole,
  Policy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Asset } from "aws-cdk-lib/aws-s3-assets";
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import { Construct } from "constructs";
import type { S3File } from "../../agent/install/user-data.ts";
import { TAGS } from "../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { DEFAULT_COST_MODEL } from "../../lambdas/domain/cooling-policy.ts";
import { DEFAULT_AMI_PARAMETER, DEFAULT_ROOT_DEVICE_NAME } from "../config.ts";

export interface ComputeProps {
  /** This installation's name: the `gpuctl:control-plane` tag of its instances and queues. */
  controlPlaneName: string;
  /** Every command queue is named `<queueNamePrefix><gpuctl instance id>`. */
  queueNamePrefix: string;
  /** An existing VPC and its subnets (one per AZ, in launch order); absent: a new minimal VPC. */
  network?: { vpcId: string; subnetIds: string[] };
  /** Default: the newest Deep Learning Base GPU AMI, from its public SSM parameter at deploy. */
  machineImage?: IMachineImage;
  /** The agent's bundle (dist/agent/agent.mjs) and the Node.js tarball, uploaded as assets. */
  agentBundlePath: string;
  nodeRuntimePath: string;
  /** Root volume, GiB; default the cost model's (DEFAULT_COST_MODEL.ebsGb, 100). */
  rootVolumeGiB?: number;
  /** The AMI's root device name; default /dev/sda1 (Ubuntu). */
  rootDeviceName?: string;
  /** The instance types a launch may ask for: RunInstances is refused any other. */
  instanceTypes: string[];
  /** Whether a launch may ask for spot capacity; when false, RunInstances is refused it. */
  spot: boolean;
}

const EC2_SERVICE = "ec2.amazonaws.com";

const sha256Of = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/**
 * The GPU instances' side of the control plane (docs/aws.md, "Compute on EC2" and "The agent
 * on EC2"): the network they launch in, the launch template the EC2 adapter launches from,
 * the instance role the agent signs with, and the two files the user data installs. Nothing
 * here runs at rest: instances exist only while jobs or their cooling need them.
 */
export class Compute extends Construct {
  readonly launchTemplateId: string;
  /** The template's latest version number: each deploy that changes the template takes effect at the next launch. */
  readonly launchTemplateVersion: string;
  readonly subnetIds: string[];
  readonly instanceRoleName: string;
  readonly agentBundle: S3File;
  readonly nodeRuntime: S3File;
  readonly securityGroup: SecurityGroup;
  readonly launchTemplate: LaunchTemplate;
  readonly instanceRole: Role;
  readonly #controlPlaneName: string;
  readonly #imageId: string;
  readonly #instanceTypes: string[];
  readonly #spot: boolean;

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id);
    this.#controlPlaneName = props.controlPlaneName;
    this.#instanceTypes = props.instanceTypes;
    this.#spot = props.spot;
    const stack = Stack.of(this);
    const vpc = props.network ? this.#existingVpc(props.network.vpcId) : this.#minimalVpc();
    this.subnetIds = props.network?.subnetIds ?? vpc.publicSubnets.map((s) => s.subnetId);

    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      vpc,
      description: "gpuctl GPU instances: no ingress; egress to AWS endpoints and the agent API",
      allowAllOutbound: true,
    });

    this.instanceRole = new Role(this, "InstanceRole", {
      assumedBy: new ServicePrincipal(EC2_SERVICE),
      description: "gpuctl agent: its install files, its own command queue, the agent API",
    });
    this.instanceRoleName = this.instanceRole.roleName;

    const machineImage = props.machineImage ?? MachineImage.fromSsmParameter(DEFAULT_AMI_PARAMETER);
    this.#imageId = machineImage.getImage(this).imageId;
    this.launchTemplate = new LaunchTemplate(this, "LaunchTemplate", {
      machineImage,
      role: this.instanceRole,
      securityGroup: this.securityGroup,
      httpTokens: LaunchTemplateHttpTokens.REQUIRED,
      // Hop limit 1: a container on the instance cannot reach the metadata service.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: props.rootDeviceName ?? DEFAULT_ROOT_DEVICE_NAME,
          volume: BlockDeviceVolume.ebs(props.rootVolumeGiB ?? DEFAULT_COST_MODEL.ebsGb, {
            volumeType: EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
      // A shutdown from inside keeps the disk, so the instance can be started for the next
      // job; the adapter sets this per launch too (terminate for spot, which cannot stop).
      instanceInitiatedShutdownBehavior: InstanceInitiatedShutdownBehavior.STOP,
      detailedMonitoring: false,
    });
    // The adapter tags each instance and volume at launch (gpuctl:instance, job, pool,
    // owner, Name); the template adds none of its own (CDK's Name, the stack's tags) that
    // a launch would have to merge or override.
    (this.launchTemplate.node.defaultChild as CfnLaunchTemplate).addPropertyDeletionOverride(
      "LaunchTemplateData.TagSpecifications",
    );
    this.launchTemplateId = this.launchTemplate.launchTemplateId ?? "";
    this.launchTemplateVersion = this.launchTemplate.latestVersionNumber;

    this.agentBundle = this.#upload("AgentBundle", props.agentBundlePath);
    this.nodeRuntime = this.#upload("NodeRuntime", props.nodeRuntimePath);
    this.instanceRole.addToPolicy(
      new PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.agentBundle, this.nodeRuntime].map(
          ({ bucket, key }) => `arn:${stack.partition}:s3:::${bucket}/${key}`,
        ),
      }),
    );
    const queues = stack.formatArn({
      service: "sqs",
      resource: `${props.queueNamePrefix}*`,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    this.instanceRole.addToPolicy(
      new PolicyStatement({
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        resources: [queues],
        // A policy variable, for IAM to fill in per request: the queue must be tagged
        // with the ARN of the very instance asking (the control plane tags it at launch).
        conditions: {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
          StringEquals: { "aws:ResourceTag/gpuctl:agent-instance-arn": "${ec2:SourceInstanceARN}" },
        },
      }),
    );
    acknowledgeWildcards(this.instanceRole, [
      [
        queues,
        "Every instance's queue shares the prefix; the condition lets an agent read only the queue tagged with its own instance's ARN.",
      ],
    ]);
  }

  #minimalVpc(): IVpc {
    const vpc = new Vpc(this, "Network", {
      // An environment-agnostic stack sees two AZs; a launch tries the next on a capacity refusal.
      maxAzs: 2,
      // No NAT gateway (about $33 a month each): instances get public addresses and no ingress.
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: SubnetType.PUBLIC, cidrMask: 20 }],
      // S3 traffic (install files, inputs, results) stays on AWS's network, at no charge.
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
      restrictDefaultSecurityGroup: false,
    });
    // Who jobs talked to, for an investigation; a VPC with no instance logs nothing and costs nothing.
    vpc.addFlowLog("FlowLog", {
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, "FlowLogs", { retention: RetentionDays.ONE_MONTH }),
      ),
      trafficType: FlowLogTrafficType.ALL,
    });
    // CDK's own Vpc type misses IVpc under exactOptionalPropertyTypes; it is one.
    return vpc as IVpc;
  }

  /** The security group needs only the VPC's id; launches name the subnets themselves. */
  #existingVpc(vpcId: string): IVpc {
    const vpc = Vpc.fromVpcAttributes(this, "Vpc", { vpcId, availabilityZones: Fn.getAzs() });
    Annotations.of(this).acknowledgeWarning(
      "@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones",
      "Nothing reads the VPC's availability zones: the subnets are given by id",
    );
    return vpc;
  }

  #upload(id: string, path: string): S3File {
    const asset = new Asset(this, id, { path });
    return { bucket: asset.s3BucketName, key: asset.s3ObjectKey, sha256: sha256Of(path) };
  }

  /**
   * What every function with the compute port may do (docs/aws.md, "Compute on EC2"): see
   * instances, and stop or terminate this installation's. Launching is `grantLaunch`'s.
   */
  grantManage(grantee: IGrantable): void {
    const instances = this.#ec2("instance", "*");
    this.#attach(grantee, "Manage", [
      new PolicyStatement({
        actions: ["ec2:StopInstances", "ec2:TerminateInstances"],
        resources: [instances],
        conditions: { StringEquals: this.#ours("aws:ResourceTag") },
      }),
      new PolicyStatement({ actions: ["ec2:DescribeInstances"], resources: ["*"] }),
    ]);
  }

  /**
   * What only the function that answers a silent agent may do: reboot one of this
   * installation's instances, whose agent starts again at boot.
   */
  grantRestart(grantee: IGrantable): void {
    this.#attach(grantee, "Restart", [
      new PolicyStatement({
        actions: ["ec2:RebootInstances"],
        resources: [this.#ec2("instance", "*")],
        conditions: { StringEquals: this.#ours("aws:ResourceTag") },
      }),
    ]);
  }

  /**
   * What only the function that finds instances for jobs may do: launch one from this
   * template, of an allowed type, with IMDSv2, an encrypted disk, tagged as ours, in the
   * stack's subnets; or start one of ours again. The conditions hold even if the launch
   * request tried to override the template.
   */
  grantLaunch(grantee: IGrantable): void {
    const instances = this.#ec2("instance", "*");
    const volumes = this.#ec2("volume", "*");
    const networkInterfaces = this.#ec2("network-interface", "*");
    const snapshots = this.#ec2("snapshot", "*", "");
    const spotRequests = this.#ec2("spot-instances-request", "*");
    const launchTemplate = this.#ec2("launch-template", this.launchTemplateId);
    const subnets = this.subnetIds.map((subnetId) => this.#ec2("subnet", subnetId));
    this.#attach(grantee, "Launch", [
      new PolicyStatement({
        actions: ["ec2:RunInstances"],
        resources: [instances],
        conditions: {
          StringEquals: {
            ...this.#ours("aws:RequestTag"),
            "ec2:InstanceType": this.#instanceTypes,
          },
          ArnEquals: { "ec2:LaunchTemplate": launchTemplate },
          // IfExists: what the template sets, the request may only repeat.
          StringEqualsIfExists: {
            "ec2:MetadataHttpTokens": "required",
            ...(this.#spot ? {} : { "ec2:InstanceMarketType": "on-demand" }),
          },
          NumericLessThanEqualsIfExists: { "ec2:MetadataHttpPutResponseHopLimit": "1" },
        },
      }),
      new PolicyStatement({
        actions: ["ec2:RunInstances"],
        resources: [volumes],
        conditions: {
          StringEquals: this.#ours("aws:RequestTag"),
          BoolIfExists: { "ec2:Encrypted": "true" },
        },
      }),
      // The interface a launch creates, in the stack's subnets only (not an existing one elsewhere).
      new PolicyStatement({
        actions: ["ec2:RunInstances"],
        resources: [networkInterfaces],
        conditions: { ArnEquals: { "ec2:Subnet": subnets } },
      }),
      // What a launch uses: the template, its image (and the image's snapshot, which the
      // template's larger root volume is made from), the stack's subnets and security group;
      // the request a spot launch makes.
      new PolicyStatement({
        actions: ["ec2:RunInstances"],
        resources: [
          launchTemplate,
          this.#ec2("image", this.#imageId, ""),
          snapshots,
          ...subnets,
          this.#ec2("security-group", this.securityGroup.securityGroupId),
          ...(this.#spot ? [spotRequests] : []),
        ],
      }),
      new PolicyStatement({
        actions: ["ec2:CreateTags"],
        resources: [instances, volumes],
        conditions: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
      }),
      new PolicyStatement({
        actions: ["ec2:StartInstances"],
        resources: [instances],
        conditions: { StringEquals: this.#ours("aws:ResourceTag") },
      }),
      new PolicyStatement({
        actions: ["iam:PassRole"],
        resources: [this.instanceRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": EC2_SERVICE } },
      }),
    ]);
  }

  #ec2(resource: string, resourceName: string, account?: string): string {
    return Stack.of(this).formatArn({
      service: "ec2",
      resource,
      resourceName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      ...(account === undefined ? {} : { account }),
    });
  }

  #ours(key: "aws:RequestTag" | "aws:ResourceTag"): Record<string, string> {
    return { [`${key}/${TAGS.controlPlane}`]: this.#controlPlaneName };
  }

  /** A policy of its own on the grantee's role, each wildcard resource acknowledged with its reason. */
  #attach(
    grantee: IGrantable,
    kind: "Manage" | "Launch" | "Restart",
    statements: PolicyStatement[],
  ): void {
    const role = grantee.grantPrincipal as Partial<IRole>;
    if (!role.attachInlinePolicy || !role.node)
      throw new Error(`grant${kind}: the grantee must be a role (a Lambda function's, say)`);
    const policy = new Policy(this, `${kind}${role.node.addr}`, { statements });
    role.attachInlinePolicy(policy);
    const reasons: Record<string, string> = {
      [this.#ec2("instance", "*")]:
        "New instances have no id yet; the statements' tag conditions keep it to this installation's instances.",
      [this.#ec2("volume", "*")]:
        "New volumes have no id yet; the launch must tag them as this installation's.",
      [this.#ec2("network-interface", "*")]:
        "The network interface a launch creates has no id yet; it must be in the stack's subnets.",
      [this.#ec2("snapshot", "*", "")]:
        "The AMI's root snapshot is owned by the AMI's publisher and changes with each AMI release.",
      [this.#ec2("spot-instances-request", "*")]:
        "The request a spot launch creates has no id yet.",
      "*": "ec2:DescribeInstances supports no resource-level permission; the adapter filters on the control plane's tag.",
    };
    const used = new Set(statements.flatMap((statement) => statement.resources));
    acknowledgeWildcards(
      policy,
      Object.entries(reasons).filter(([resource]) => used.has(resource)),
    );
  }

  /** Lets the agent call the agent routes: `execute-api:Invoke` on the given ARN pattern. */
  allowAgentApi(agentRoutesArn: string): void {
    const policy = new Policy(this, "AgentApi", {
      statements: [
        new PolicyStatement({ actions: ["execute-api:Invoke"], resources: [agentRoutesArn] }),
      ],
    });
    this.instanceRole.attachInlinePolicy(policy);
    acknowledgeWildcards(policy, [
      [
        agentRoutesArn,
        "Every stage and method of the agent routes; the API checks which instance signs each request.",
      ],
    ]);
  }
}

/**
 * Acknowledges cdk-nag's IAM5 finding of each wildcard resource on `scope` alone, under
 * the name cdk-nag gives it (tokens flattened as it flattens them).
 */
const acknowledgeWildcards = (
  scope: Construct,
  resources: [resource: string, reason: string][],
) => {
  const stack = Stack.of(scope);
  for (const [resource, reason] of resources) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`,
      reason,
    });
  }
};
