import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RemovalPolicy, Validations } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
} from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type { StateMachineName } from "../../lambdas/ports.ts";
import { type Functions, STATE_MACHINES, stateMachineArn, stateMachineName } from "./functions.ts";

const STATE_MACHINES_DIR = join(import.meta.dirname, "../../statemachines");

/** The ASL file of a machine, as it ships. */
export const definitionFile = (machine: StateMachineName) =>
  join(STATE_MACHINES_DIR, `${machine}.asl.json`);

/** Every `${Name}` an ASL text names, once each. */
export const placeholders = (definition: string) => [
  ...new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map(([, name]) => name as string)),
];

export interface WorkflowsProps {
  /** Each `${...Function}` of the ASL files is the task function of that name. */
  functions: Functions;
}

/**
 * The three state machines of statemachines/, as they ship (the same files the local runner
 * runs), each `${...Function}` substituted with that task function's ARN. Standard
 * workflows: a job's lifecycle waits hours on task tokens, beyond Express's 5 minutes.
 * Named, so the functions that start and answer them know their ARNs without a reference
 * (a reference both ways is a cycle CloudFormation refuses).
 */
export class Workflows extends Construct {
  readonly machines: Record<StateMachineName, StateMachine>;
  /** Built from the names, as the functions know them: no reference to the machines. */
  readonly arns: Record<StateMachineName, string>;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    const tasks: Record<string, IFunction> = props.functions.tasks;
    const made = {} as Record<StateMachineName, StateMachine>;
    for (const machine of STATE_MACHINES) {
      const definition = readFileSync(definitionFile(machine), "utf8");
      const invoked = placeholders(definition).map((name) => {
        const fn = tasks[name];
        if (!fn) throw new Error(`${definitionFile(machine)}: \${${name}} names no task function`);
        return [name, fn] as const;
      });
      const name = stateMachineName(this, machine);
      // Every state, no data: when each state ran and how it ended, for a month, at a few
      // hundred bytes a state; no inputs or outputs, which carry task tokens.
      const logs = new LogGroup(this, `${machine}-logs`, {
        // Step Functions' log deliveries need the vended-logs prefix to stay under
        // CloudWatch Logs' resource policy size.
        logGroupName: `/aws/vendedlogs/states/${name}`,
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const stateMachine = new StateMachine(this, machine, {
        stateMachineName: name,
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromString(definition),
        definitionSubstitutions: Object.fromEntries(
          invoked.map(([placeholder, fn]) => [placeholder, fn.functionArn]),
        ),
        logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
        tracingEnabled: true,
      });
      // The unqualified ARNs the states invoke, not CDK's grantInvoke with its `:*` versions.
      stateMachine.addToRolePolicy(
        new PolicyStatement({
          actions: ["lambda:InvokeFunction"],
          resources: [...new Set(invoked.map(([, fn]) => fn.functionArn))],
        }),
      );
      Validations.of(stateMachine.role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "X-Ray's PutTraceSegments, PutTelemetryRecords, GetSamplingRules and GetSamplingTargets, and CloudWatch Logs' log delivery actions (CreateLogDelivery, ...), which Step Functions' logging needs, support no resource-level permission",
      });
      made[machine] = stateMachine;
    }
    this.machines = made;
    this.arns = Object.fromEntries(
      STATE_MACHINES.map((machine) => [machine, stateMachineArn(this, machine)]),
    ) as Record<StateMachineName, string>;
  }
}
