import { Annotations, Aws, Duration, Stack, Validations } from "aws-cdk-lib";
import { CfnBudget } from "aws-cdk-lib/aws-budgets";
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
  type MetricOptions,
  SingleValueWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Effect, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { type ITopic, Topic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { IStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import {
  INSTANCE_USES,
  METRICS_NAMESPACE,
  type MetricDimensions,
  type MetricName,
  SERVICE_DIMENSION,
} from "../../lambdas/domain/metrics.ts";
import { PHASES } from "../../lambdas/domain/phases.ts";
import { TIMELINE_PHASES } from "../../lambdas/domain/timeline.ts";

export interface ObservabilityProps {
  /** The control plane's functions by a name for their widgets: errors, throttles, duration. */
  functions: Readonly<Record<string, IFunction>>;
  /** Its state machines by name: failed, timed-out and aborted executions. */
  stateMachines: Readonly<Record<string, IStateMachine>>;
  /** Where events no function could handle after its retries end up: alarmed on. */
  deadLetterQueue?: IQueue;
  /** The monthly cost, in US dollars, over which the budget notifies the alarm topic. */
  monthlyBudgetUsd: number;
  /**
   * Limits the budget to costs carrying this cost allocation tag. It must be activated in
   * the Billing console first: until then no cost carries it, and the budget sees nothing.
   * Without it, the budget counts the whole account's costs.
   */
  budgetCostTag?: { key: string; value: string };
  /** Where alarms and the budget notify; a topic for operators is created when none is given. */
  alarmTopic?: ITopic;
}

/** CloudWatch's free tier: 3 dashboards of at most 50 metrics each; a larger one is billed. */
export const FREE_DASHBOARD_METRICS = 50;

/** A metric the code publishes (domain/metrics.ts), as CloudWatch stores it: with `service`. */
export const gpuctlMetric = <N extends MetricName>(
  name: N,
  dimensions: MetricDimensions<N>,
  options: MetricOptions = {},
): Metric =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: {
      [SERVICE_DIMENSION.name]: SERVICE_DIMENSION.value,
      ...(dimensions as Record<string, string>),
    },
    ...options,
  });

const HOUR = Duration.hours(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * What operators watch: a dashboard of jobs and GPUs (the AIbro timeline's periods, jobs by
 * phase, GPU-hours by use, idle cost, what the reaper finds), one of the functions and
 * workflows, alarms for what costs money or loses a job, and a monthly budget. Each
 * dashboard stays within CloudWatch's free 50 metrics; the alarms cost $0.10 a month each.
 */
export class Observability extends Construct {
  readonly alarmTopic: ITopic;
  readonly jobsDashboard: Dashboard;
  readonly functionsDashboard: Dashboard;
  readonly alarms: {
    stuckJobs: Alarm;
    orphanInstances: Alarm;
    deleteFailedJobs: Alarm;
    deadLetters?: Alarm;
  };
  readonly budget: CfnBudget;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    if (!(props.monthlyBudgetUsd > 0))
      throw new Error(`monthlyBudgetUsd: must be a positive amount, got ${props.monthlyBudgetUsd}`);
    this.alarmTopic = props.alarmTopic ?? this.operatorTopic();
    this.alarms = this.createAlarms(props.deadLetterQueue);
    this.jobsDashboard = this.dashboard("jobs", this.jobWidgets());
    this.functionsDashboard = this.dashboard("functions", this.functionWidgets(props));
    this.budget = this.createBudget(props);
  }

  private operatorTopic(): Topic {
    const topic = new Topic(this, "AlarmTopic", {
      displayName: "gpuctl alarms and budget",
      enforceSSL: true,
    });
    const account = Stack.of(this).account;
    // The topic policy replaces SNS's default one: the two publishers are named, each for this account only.
    topic.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: {
            "aws:SourceArn": `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${account}:alarm:*`,
          },
        },
      }),
    );
    topic.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal("budgets.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: { "aws:SourceArn": `arn:${Aws.PARTITION}:budgets::${account}:*` },
        },
      }),
    );
    Validations.of(topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm and budget notifications carry metric names and thresholds, no job data. A customer managed KMS key costs $1 a month, the stack's whole budget at rest, and the AWS managed SNS key cannot let CloudWatch or Budgets publish.",
    });
    return topic;
  }

  /** Absent at rest: a missing point is nothing found, so missing data never alarms. */
  private findingAlarm(id: string, metric: IMetric, description: string): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    return alarm;
  }

  private createAlarms(deadLetterQueue: IQueue | undefined): Observability["alarms"] {
    const reaperRun = { statistic: "Sum", period: FIVE_MINUTES };
    return {
      stuckJobs: this.findingAlarm(
        "StuckJobs",
        gpuctlMetric("StuckJobs", {}, reaperRun),
        "A job has stayed in one phase longer than that phase should take: its workflow lost it. The reaper's log names the job and phase (docs/observability.md).",
      ),
      orphanInstances: this.findingAlarm(
        "OrphanInstances",
        gpuctlMetric("OrphanInstances", {}, reaperRun),
        "An instance tagged by gpuctl runs with no live job: unrecorded (the reaper terminates it) or working for a job that ended. The reaper's log names it (docs/observability.md).",
      ),
      deleteFailedJobs: this.findingAlarm(
        "DeleteFailedJobs",
        gpuctlMetric("DeleteFailedJobs", {}, reaperRun),
        "A canceled job's instance could not be stopped or terminated (the job shows DELETE_FAILED): it may still bill. The reaper retries every run; its log names the job (docs/reliability.md).",
      ),
      ...(deadLetterQueue
        ? {
            deadLetters: this.findingAlarm(
              "DeadLetters",
              deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                statistic: "Maximum",
                period: FIVE_MINUTES,
              }),
              "An event no function could handle after its retries is in the dead-letter queue: read it, fix the cause, and redrive it.",
            ),
          }
        : {}),
    };
  }

  private dashboard(name: string, rows: IWidget[][]): Dashboard {
    const dashboard = new Dashboard(this, `${name[0]?.toUpperCase()}${name.slice(1)}Dashboard`, {
      dashboardName: `${Stack.of(this).stackName}-${Aws.REGION}-${name}`,
      defaultInterval: Duration.days(7),
    });
    for (const row of rows) dashboard.addWidgets(...row);
    return dashboard;
  }

  private jobWidgets(): IWidget[][] {
    const timeline = (statistic: "p50" | "p90") =>
      new GraphWidget({
        title: `AIbro timeline: each period's ${statistic} (seconds)`,
        view: GraphWidgetView.BAR,
        width: 12,
        height: 8,
        left: TIMELINE_PHASES.map((Period) =>
          gpuctlMetric("TimelinePeriod", { Period }, { statistic, period: HOUR, label: Period }),
        ),
      });
    const phases = new GraphWidget({
      title: "Jobs entering each phase",
      width: 24,
      height: 8,
      stacked: true,
      left: PHASES.map((Phase) =>
        gpuctlMetric(
          "JobPhaseEntered",
          { Phase },
          { statistic: "Sum", period: HOUR, label: Phase },
        ),
      ),
    });
    const seconds = Object.fromEntries(
      INSTANCE_USES.map((Use) => [
        Use,
        gpuctlMetric("InstanceSeconds", { Use }, { statistic: "Sum", period: HOUR }),
      ]),
    );
    // An hour's GPU-hours are also how many instances were in that use, on average, that hour.
    const gpuHours = new GraphWidget({
      title: "GPU-hours each hour by use = instances in that use, on average",
      width: 12,
      height: 8,
      stacked: true,
      left: INSTANCE_USES.map(
        (use) =>
          new MathExpression({
            expression: `${use} / 3600`,
            usingMetrics: { [use]: seconds[use] as Metric },
            label: use,
            period: HOUR,
          }),
      ),
    });
    const idleCost = new SingleValueWidget({
      title: "Estimated idle cost (USD): cooling at the running price, stopped volumes",
      width: 6,
      height: 8,
      setPeriodToTimeRange: true,
      metrics: [gpuctlMetric("IdleCost", {}, { statistic: "Sum", label: "idle USD" })],
    });
    const findings = new GraphWidget({
      title: "What the reaper finds",
      width: 6,
      height: 8,
      left: (["OrphanInstances", "StuckJobs", "ReaperFailures"] as const).map((name) =>
        gpuctlMetric(name, {}, { statistic: "Sum", period: FIVE_MINUTES, label: name }),
      ),
    });
    const alarms = new AlarmStatusWidget({
      title: "Alarms",
      width: 24,
      height: 3,
      alarms: Object.values(this.alarms),
    });
    return [[alarms], [timeline("p50"), timeline("p90")], [phases], [gpuHours, idleCost, findings]];
  }

  private functionWidgets(props: ObservabilityProps): IWidget[][] {
    const functions = Object.entries(props.functions);
    const machines = Object.entries(props.stateMachines);
    const count = functions.length * 3 + machines.length * 3 + (props.deadLetterQueue ? 1 : 0);
    if (count > FREE_DASHBOARD_METRICS)
      Annotations.of(this).addWarningV2(
        "gpuctl:Observability.functionsDashboardBilled",
        `the functions dashboard shows ${count} metrics, over the free tier's ${FREE_DASHBOARD_METRICS}: it costs $3 a month`,
      );
    const byFunction = (title: string, metric: (fn: IFunction) => Metric) =>
      new GraphWidget({
        title,
        width: 8,
        height: 8,
        left: functions.map(([name, fn]) => metric(fn).with({ label: name })),
      });
    const byMachine = (title: string, metric: (machine: IStateMachine) => Metric) =>
      new GraphWidget({
        title,
        width: 8,
        height: 6,
        left: machines.map(([name, machine]) => metric(machine).with({ label: name })),
      });
    const sum = { statistic: "Sum", period: FIVE_MINUTES };
    return [
      [
        byFunction("Function errors", (fn) => fn.metricErrors(sum)),
        byFunction("Function throttles", (fn) => fn.metricThrottles(sum)),
        byFunction("Function duration p90 (ms)", (fn) =>
          fn.metricDuration({ statistic: "p90", period: FIVE_MINUTES }),
        ),
      ],
      [
        byMachine("Executions failed", (machine) => machine.metricFailed(sum)),
        byMachine("Executions timed out", (machine) => machine.metricTimedOut(sum)),
        byMachine("Executions aborted", (machine) => machine.metricAborted(sum)),
      ],
      ...(props.deadLetterQueue
        ? [
            [
              new GraphWidget({
                title: "Events in the dead-letter queue",
                width: 8,
                height: 6,
                left: [
                  props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                    statistic: "Maximum",
                    period: FIVE_MINUTES,
                  }),
                ],
              }),
            ],
          ]
        : []),
    ];
  }

  /**
   * A budget rather than a billing alarm: billing metrics exist only in us-east-1 and an
   * alarm costs $0.10 a month, while an account's first two budgets are free and work from
   * any region. It notifies at 80% of actual spend and at 100% of the month's forecast.
   */
  private createBudget(props: ObservabilityProps): CfnBudget {
    const subscribers = [{ subscriptionType: "SNS", address: this.alarmTopic.topicArn }];
    const notify = (notificationType: "ACTUAL" | "FORECASTED", threshold: number) => ({
      notification: {
        notificationType,
        comparisonOperator: "GREATER_THAN",
        threshold,
        thresholdType: "PERCENTAGE",
      },
      subscribers,
    });
    const tag = props.budgetCostTag;
    return new CfnBudget(this, "Budget", {
      budget: {
        budgetName: `${Stack.of(this).stackName}-${Aws.REGION}-monthly`,
        budgetType: "COST",
        timeUnit: "MONTHLY",
        budgetLimit: { amount: props.monthlyBudgetUsd, unit: "USD" },
        ...(tag ? { costFilters: { TagKeyValue: [`user:${tag.key}$${tag.value}`] } } : {}),
      },
      notificationsWithSubscribers: [notify("ACTUAL", 80), notify("FORECASTED", 100)],
    });
  }
}
