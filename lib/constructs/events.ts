import { Duration, Validations } from "aws-cdk-lib";
import { EventBus, type IRuleTarget, Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction, SnsTopic } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { Topic } from "aws-cdk-lib/aws-sns";
import { type CfnQueue, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { TERMINAL_PHASES } from "../../lambdas/domain/phases.ts";
import type { ComputeState } from "../../lambdas/domain/reaping.ts";
import { JobStatusChanged } from "../../lambdas/domain/status-events.ts";
import { COOLING_FAILURES } from "../../lambdas/handlers/events/cooling-execution-ended.ts";

/**
 * The EC2 states that can call for anything (docs/aws.md, "Reconcile and reaper"): an
 * instance stopped or going away. `pending` and `running` never do, and are most of the
 * account's state changes.
 */
export const EC2_STATES_RECONCILED = [
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
] as const satisfies readonly ComputeState[];

/** How long and how often a rule's delivery, or a function's run of it, is retried. */
interface Persistence {
  retryAttempts: number;
  maxEventAge: Duration;
}

/**
 * An EC2 or Step Functions event: the reaper reconciles the same within minutes, so one
 * older than an hour has long been acted on.
 */
const RECONCILING: Persistence = { retryAttempts: 2, maxEventAge: Duration.hours(1) };
/** A reaper run: the next one comes 5 minutes later and supersedes it. */
const REAPING: Persistence = { retryAttempts: 0, maxEventAge: Duration.minutes(4) };
/** A job's end, for its owner: late is still worth sending. */
const NOTIFYING: Persistence = { retryAttempts: 8, maxEventAge: Duration.hours(6) };

/**
 * gpuctl's events (docs/events.md) and the AWS events it acts on:
 * - the custom bus the Lambdas publish every status change to (`EVENT_BUS_NAME`);
 * - a topic users subscribe to for the end of jobs (terminal phases only);
 * - the rules and the schedule that invoke the EC2-events, cooling-execution-ended and
 *   reaper functions (`routeEc2Events`, `routeCoolingExecutionEnded`, `scheduleReaper`).
 *
 * Whatever keeps failing lands in one dead-letter queue, for an alarm to watch: an event
 * a rule could not deliver, and an event its function failed on after Lambda's own retries
 * (the function's asynchronous on-failure destination; EventBridge hands an event to Lambda
 * asynchronously, so a handler's error never reaches the rule's own dead-letter queue).
 *
 * No archive: every job's status history is in the table (`GET /v1/jobs/{id}/events`),
 * and a replay would re-notify users of jobs long ended.
 */
export class Events extends Construct {
  readonly bus: EventBus;
  readonly terminalStatuses: Topic;
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new EventBus(this, "Bus", {
      description: "gpuctl: every job's and instance's status change",
    });
    this.deadLetters = new Queue(this, "DeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters.node.defaultChild as CfnQueue).acknowledge({
      id: "AwsSolutions::AwsSolutions-SQS3",
      reason:
        "It is the dead-letter queue itself, of the rules' targets and of the functions' asynchronous invocations (EventBridge and Lambda name it, not a redrive policy cdk-nag reads); an alarm watches it.",
    });
    this.terminalStatuses = new Topic(this, "TerminalStatuses", {
      displayName: "gpuctl: a job ended",
      enforceSSL: true,
    });
    new Rule(this, "JobEnded", {
      description: "A job reached a terminal phase: its owner may be told",
      eventBus: this.bus,
      eventPattern: {
        source: [JobStatusChanged.shape.source.value],
        detailType: [JobStatusChanged.shape["detail-type"].value],
        detail: { data: { phase: [...TERMINAL_PHASES] } },
      },
      targets: [
        new SnsTopic(this.terminalStatuses, {
          // A role of the rule's own, not a topic policy open to every rule of EventBridge.
          authorizeUsingRole: true,
          deadLetterQueue: this.deadLetters,
          ...NOTIFYING,
        }),
      ],
    });
  }

  /** EC2's instance state changes and spot interruption warnings (the default bus), to `fn`. */
  routeEc2Events(fn: IFunction): void {
    const target = this.invoke(fn, RECONCILING);
    new Rule(this, "Ec2StateChanged", {
      description: "An instance stopped or went away: the record follows",
      eventPattern: {
        source: ["aws.ec2"],
        detailType: ["EC2 Instance State-change Notification"],
        detail: { state: [...EC2_STATES_RECONCILED] },
      },
      targets: [target],
    });
    new Rule(this, "SpotInterruptionWarned", {
      description: "A spot instance is reclaimed in two minutes: its job is PREEMPTING",
      eventPattern: {
        source: ["aws.ec2"],
        detailType: ["EC2 Spot Instance Interruption Warning"],
      },
      targets: [target],
    });
  }

  /** An execution of the instance-cooling machine that failed or timed out, to `fn`. */
  routeCoolingExecutionEnded(fn: IFunction, coolingStateMachineArn: string): void {
    new Rule(this, "CoolingExecutionFailed", {
      description: "A cooling timer failed: its instance must not be left with nothing to end it",
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: { stateMachineArn: [coolingStateMachineArn], status: [...COOLING_FAILURES] },
      },
      targets: [this.invoke(fn, RECONCILING)],
    });
  }

  /** The reaper, every 5 minutes. */
  scheduleReaper(fn: IFunction): void {
    new Rule(this, "Reaper", {
      description: "The reaper compares the records with EC2",
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [this.invoke(fn, REAPING)],
    });
  }

  /** A rule's target `fn`, whose failures, the rule's and its own, land in the dead letters. */
  private invoke(fn: IFunction, persistence: Persistence): IRuleTarget {
    fn.configureAsyncInvoke({ onFailure: new SqsDestination(this.deadLetters), ...persistence });
    return new LambdaFunction(fn, { deadLetterQueue: this.deadLetters, ...persistence });
  }
}
