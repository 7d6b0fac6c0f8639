import { join } from "node:path";
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import { type IGrantable, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { z } from "zod";
import { quote, type S3File } from "../../agent/install/user-data.ts";
import type { Builder } from "../../lambdas/adapters/aws/builders/builder.ts";
import { metrics } from "../../lambdas/adapters/aws/builders/cloudwatch.ts";
import { passwords } from "../../lambdas/adapters/aws/builders/crypto.ts";
import { instances, jobs, pools, users } from "../../lambdas/adapters/aws/builders/dynamodb.ts";
import { compute } from "../../lambdas/adapters/aws/builders/ec2.ts";
import { events } from "../../lambdas/adapters/aws/builders/eventbridge.ts";
import { artifacts } from "../../lambdas/adapters/aws/builders/s3.ts";
import { agent } from "../../lambdas/adapters/aws/builders/secretsmanager.ts";
import {
  clock,
  cooling,
  costModel,
  region,
  spotAllowed,
} from "../../lambdas/adapters/aws/builders/settings.ts";
import { coolingTimers, workflows } from "../../lambdas/adapters/aws/builders/sfn.ts";
import { commands } from "../../lambdas/adapters/aws/builders/sqs.ts";
import { ENVIRONMENT, type EnvironmentKind } from "../../lambdas/adapters/aws/environment.ts";
import type { CoolingLimits } from "../../lambdas/domain/cooling-policy.ts";
import { API_NEEDS } from "../../lambdas/handlers/api/app.ts";
import { BOOTSTRAP_ADMIN_NEEDS } from "../../lambdas/handlers/events/bootstrap-admin.ts";
import { COOLING_EXECUTION_ENDED_NEEDS } from "../../lambdas/handlers/events/cooling-execution-ended.ts";
import { EC2_EVENTS_NEEDS } from "../../lambdas/handlers/events/ec2-events.ts";
import { REAPER_NEEDS } from "../../lambdas/handlers/events/reaper.ts";
import { TEARDOWN_NEEDS } from "../../lambdas/handlers/events/teardown.ts";
import {
  API_OWN_ENVIRONMENT,
  LAMBDA_ENTRIES,
  type LambdaName,
} from "../../lambdas/handlers/lambda/entries.ts";
import { WORKFLOW_TASKS } from "../../lambdas/handlers/workflow/tasks.ts";
import type { StateMachineName } from "../../lambdas/ports.ts";
import type { Needs, PortName, SettingName } from "../../lambdas/use-cases/control-plane.ts";
import { portGrants } from "./permissions.ts";

export { LAMBDA_ENTRIES, type LambdaName };

/** What the functions need of the GPU instances' compute: implemented by the Compute construct. */
export interface ComputeForFunctions {
  readonly launchTemplateId: string;
  readonly launchTemplateVersion: string;
  readonly subnetIds: string[];
  readonly instanceRoleName: string; // AGENT_ROLE_NAME
  readonly agentBundle: S3File; // from agent/install/user-data.ts
  readonly nodeRuntime: S3File;
  /** Describe, stop and terminate this installation's instances: every function with the compute port. */
  grantManage(grantee: IGrantable): void;
  /** Launch from the template, or start one of ours again: only the function that finds instances for jobs. */
  grantLaunch(grantee: IGrantable): void;
  /** Reboot one of ours: only the function that answers a silent agent. */
  grantRestart(grantee: IGrantable): void;
}

export interface FunctionsProps {
  table: ITable;
  bucket: IBucket;
  eventBus: IEventBus;
  /** The `gpuctl:control-plane` tag of this installation's instances and queues. */
  controlPlaneName: string;
  /** Every instance's command queue is named this and its gpuctl id. */
  queueNamePrefix: string;
  /** The instance types offered, in the order tried. */
  instanceTypes: string[];
  /** Whether jobs may ask for spot capacity (the `spot` context). */
  spotAllowed: boolean;
  /** A new pool's warm period and the cap on any instance's (`coolingDefaultMinutes`, `coolingMaxMinutes`). */
  cooling: CoolingLimits;
  compute: ComputeForFunctions;
}

const ENTRIES_DIR = join(import.meta.dirname, "../../lambdas/handlers/lambda");

/**
 * How every entry is bundled, by the stack's NodejsFunction and by
 * test/unit/lambda/bundles.test.ts alike. The pinned AWS SDK goes in the bundle (no
 * external modules): what runs is what the tests ran, not the runtime's SDK of the day. No
 * `require` banner: no dependency calls `require`, which the bundles test checks. Not
 * minified, so a stack trace in the logs names the functions it went through.
 */
export const LAMBDA_BUNDLING = {
  format: OutputFormat.ESM,
  target: "node22",
  mainFields: ["module", "main"],
  externalModules: [],
  minify: false,
  // Uses the local esbuild, the devDependency: there is no Docker.
  forceDockerBundling: false,
} as const satisfies BundlingOptions;

/**
 * The API function's bundling: the Lambda bundling, and then the web console's assets built
 * into a `console` folder beside the bundle, where the function serves them from
 * (lambdas/handlers/lambda/api.ts). The build runs under the Node.js that runs the CDK app.
 */
export const API_BUNDLING = {
  ...LAMBDA_BUNDLING,
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) => [
      [process.execPath, "scripts/build-console.ts", "--outdir", join(outputDir, "console")]
        .map(quote)
        .join(" "),
    ],
  },
} as const satisfies BundlingOptions;

/** The fixed name of each state machine: its ARN is known without a reference to it. */
export const stateMachineName = (scope: Construct, machine: StateMachineName) =>
  `${Stack.of(scope).stackName}-${machine}`;

export const stateMachineArn = (scope: Construct, machine: StateMachineName) =>
  Stack.of(scope).formatArn({
    service: "states",
    resource: "stateMachine",
    resourceName: stateMachineName(scope, machine),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });

export const STATE_MACHINES: StateMachineName[] = [
  "job-lifecycle",
  "job-deadline",
  "instance-cooling",
];

/** Every port's and setting's builder: what a function reads is what its needs' builders read. */
const BUILDERS: Record<PortName | SettingName, Builder<unknown>> = {
  jobs,
  instances,
  pools,
  users,
  passwords,
  compute,
  events,
  artifacts,
  workflows,
  coolingTimers,
  commands,
  metrics,
  clock,
  region,
  costModel,
  cooling,
  spotAllowed,
  agent,
};

interface Handler {
  needs: Needs<PortName, SettingName>;
  /** How its code is bundled, when not LAMBDA_BUNDLING. */
  bundling?: BundlingOptions;
  /** It launches and starts instances (`grantLaunch`), beyond its ports' grants. */
  launches?: true;
  /** It reboots instances whose agent went silent (`grantRestart`), beyond its ports' grants. */
  restartsAgents?: true;
  /** Kinds of variables the entry reads itself. */
  ownEnvironment?: readonly EnvironmentKind[];
  memorySize?: number;
  timeout?: Duration;
}

/** The ports and settings of each function's handler: its variables and its IAM. */
const HANDLERS: Record<LambdaName, Handler> = {
  ...(Object.fromEntries(
    Object.entries(WORKFLOW_TASKS).map(([name, task]) => [name, { needs: task.needs }]),
  ) as Record<keyof typeof WORKFLOW_TASKS, Handler>),
  // A start of a stopped instance may wait for it to finish stopping (up to 10 minutes).
  AcquireInstanceFunction: {
    needs: WORKFLOW_TASKS.AcquireInstanceFunction.needs,
    launches: true,
    timeout: Duration.minutes(15),
  },
  SilentAgentFunction: { needs: WORKFLOW_TASKS.SilentAgentFunction.needs, restartsAgents: true },
  // API Gateway ends an HTTP API integration at 30 s; users wait on it, so more memory, more CPU.
  ApiFunction: {
    needs: API_NEEDS,
    bundling: API_BUNDLING,
    ownEnvironment: API_OWN_ENVIRONMENT,
    memorySize: 1024,
    timeout: Duration.seconds(29),
  },
  // Invoked once, by the operator: one scrypt hash and two table writes.
  BootstrapAdminFunction: { needs: BOOTSTRAP_ADMIN_NEEDS },
  CoolingExecutionEndedFunction: { needs: COOLING_EXECUTION_ENDED_NEEDS },
  Ec2EventsFunction: { needs: EC2_EVENTS_NEEDS },
  // Done before the next run, 5 minutes later, starts.
  ReaperFunction: { needs: REAPER_NEEDS, timeout: Duration.minutes(4) },
  // Hundreds of instances at 8 terminations at once, in three rounds; within its custom
  // resource's service timeout (lib/constructs/teardown.ts).
  TeardownFunction: { needs: TEARDOWN_NEEDS, timeout: Duration.minutes(10) },
};

/** The kinds of variables a function reads: those its ports' and settings' builders read, and its own. */
export const environmentKinds = (name: LambdaName): EnvironmentKind[] => {
  const { needs, ownEnvironment = [] } = HANDLERS[name];
  return [
    ...new Set([
      ...ownEnvironment,
      ...[...needs.ports, ...needs.settings].flatMap((need) => BUILDERS[need].reads),
    ]),
  ];
};

/** The ports and settings a function's handler needs: what its role is granted. */
export const handlerNeeds = (name: LambdaName) => HANDLERS[name].needs;

/** Set by Lambda itself, or later (`setAgentEndpoint`): the API's URL exists only after the API. */
type LateVariable = "AWS_REGION" | "AGENT_ENDPOINT";

type Variables = {
  [K in EnvironmentKind]: Record<
    Exclude<keyof z.input<(typeof ENVIRONMENT)[K]>, LateVariable>,
    string
  >;
};

/** Every variable of the kinds, as ENVIRONMENT names them (two kinds may share one). */
export const variableNames = (kinds: readonly EnvironmentKind[]) => [
  ...new Set(kinds.flatMap((kind) => Object.keys(ENVIRONMENT[kind].shape))),
];

/**
 * One Lambda per entry file (lambdas/handlers/lambda/), each with exactly the variables of
 * its handler's ports and settings and a role allowed exactly their IAM actions
 * (permissions.ts), its own log group, and X-Ray tracing (so a workflow's trace shows each
 * task's cold start and duration). Also the secret agents' assignment credentials are
 * signed with.
 */
export class Functions extends Construct {
  readonly functions: Record<LambdaName, NodejsFunction>;
  readonly agentSecret: Secret;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.agentSecret = new Secret(this, "AgentSecret", {
      description: "Signs the credential of each job's assignment to its instance's agent",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.agentSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Each function reads the secret once per container and credentials signed with it live as long as their job: a rotation would split running containers between two keys, and the verifier accepts one. Rotate by updating the secret and deploying while no job runs.",
    });
    const stateMachineArns = Object.fromEntries(
      STATE_MACHINES.map((machine) => [machine, stateMachineArn(this, machine)]),
    ) as Record<StateMachineName, string>;
    const { compute } = props;
    const variables: Variables = {
      table: { TABLE_NAME: props.table.tableName },
      bucket: { BUCKET_NAME: props.bucket.bucketName },
      eventBus: { EVENT_BUS_NAME: props.eventBus.eventBusName },
      stateMachines: {
        JOB_LIFECYCLE_STATE_MACHINE_ARN: stateMachineArns["job-lifecycle"],
        JOB_DEADLINE_STATE_MACHINE_ARN: stateMachineArns["job-deadline"],
        INSTANCE_COOLING_STATE_MACHINE_ARN: stateMachineArns["instance-cooling"],
      },
      coolingMachine: { INSTANCE_COOLING_STATE_MACHINE_ARN: stateMachineArns["instance-cooling"] },
      commandQueues: { COMMAND_QUEUE_PREFIX: props.queueNamePrefix, ACCOUNT_ID: stack.account },
      controlPlane: { CONTROL_PLANE_NAME: props.controlPlaneName },
      compute: {
        LAUNCH_TEMPLATE_ID: compute.launchTemplateId,
        LAUNCH_TEMPLATE_VERSION: compute.launchTemplateVersion,
        SUBNET_IDS: compute.subnetIds.join(","),
        INSTANCE_TYPES: props.instanceTypes.join(","),
        AGENT_BUNDLE_BUCKET: compute.agentBundle.bucket,
        AGENT_BUNDLE_KEY: compute.agentBundle.key,
        AGENT_BUNDLE_SHA256: compute.agentBundle.sha256,
        NODE_RUNTIME_BUCKET: compute.nodeRuntime.bucket,
        NODE_RUNTIME_KEY: compute.nodeRuntime.key,
        NODE_RUNTIME_SHA256: compute.nodeRuntime.sha256,
      },
      region: {},
      spot: { SPOT_ALLOWED: String(props.spotAllowed) },
      cooling: {
        COOLING_DEFAULT_S: String(props.cooling.defaultWarmS),
        COOLING_MAX_S: String(props.cooling.maxWarmS),
      },
      agentRole: { AGENT_ROLE_NAME: compute.instanceRoleName },
      agent: { AGENT_SECRET_ARN: this.agentSecret.secretArn },
    };
    const grants = portGrants({
      table: props.table,
      bucket: props.bucket,
      eventBus: props.eventBus,
      stateMachineArns,
      commandQueuesArn: stack.formatArn({
        service: "sqs",
        resource: `${props.queueNamePrefix}*`,
        arnFormat: ArnFormat.NO_RESOURCE_NAME,
      }),
      agentSecret: this.agentSecret,
      grantManage: (grantee) => compute.grantManage(grantee),
    });

    const made = {} as Record<LambdaName, NodejsFunction>;
    for (const [name, entry] of Object.entries(LAMBDA_ENTRIES) as [LambdaName, string][]) {
      const handler = HANDLERS[name];
      const logGroup = new LogGroup(this, `${name}Logs`, {
        retention: RetentionDays.ONE_MONTH,
        // Operational logs: a job's history is in the table.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // A role of its own with no managed policy: AWSLambdaBasicExecutionRole would allow
      // writing to every log group.
      const role = new Role(this, `${name}Role`, {
        assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      });
      const fn = new NodejsFunction(this, name, {
        entry: join(ENTRIES_DIR, entry),
        handler: "handler",
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: handler.memorySize ?? 512,
        timeout: handler.timeout ?? Duration.minutes(1),
        role,
        logGroup,
        tracing: Tracing.ACTIVE,
        environment: Object.fromEntries(
          environmentKinds(name).flatMap((kind) => Object.entries(variables[kind])),
        ),
        bundling: handler.bundling ?? LAMBDA_BUNDLING,
      });
      logGroup.grantWrite(role);
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), and ec2:DescribeInstances for a function with the compute port, support no resource-level permission",
      });
      Validations.of(fn).acknowledge({
        id: "AwsSolutions-L1",
        reason:
          "Node.js 22 is the runtime the project builds and tests for (package.json's node, the bundles' target node22); moving to a newer one is an upgrade of all of them at once",
      });
      const needs = handler.needs;
      for (const need of [...needs.ports, ...needs.settings]) grants[need](role);
      if (handler.launches) compute.grantLaunch(role);
      if (handler.restartsAgents) compute.grantRestart(role);
      made[name] = fn;
    }
    this.functions = made;
  }

  /** The workflow tasks' functions, by their ASL placeholder. */
  get tasks(): Record<keyof typeof WORKFLOW_TASKS, NodejsFunction> {
    return Object.fromEntries(
      Object.keys(WORKFLOW_TASKS).map((name) => [name, this.functions[name as LambdaName]]),
    ) as Record<keyof typeof WORKFLOW_TASKS, NodejsFunction>;
  }

  /** Where agents reach the API (`AGENT_ENDPOINT`), for every function whose settings need it. */
  setAgentEndpoint(url: string) {
    for (const name of Object.keys(this.functions) as LambdaName[])
      if (environmentKinds(name).includes("agent"))
        this.functions[name].addEnvironment("AGENT_ENDPOINT", url);
  }
}
