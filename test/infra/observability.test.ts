import { App, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { METRICS, METRICS_NAMESPACE, type MetricName } from "../../lambdas/domain/metrics.ts";
import { TIMELINE_PHASES } from "../../lambdas/domain/timeline.ts";
import {
  FREE_DASHBOARD_METRICS,
  Observability,
  type ObservabilityProps,
} from "../../lib/constructs/observability.ts";

const FUNCTIONS = ["api", "reaper", "ec2-events", "acquire-instance"];
const MACHINES = ["job-lifecycle", "job-deadline", "instance-cooling"];

/** The construct on a stack of its own, with stand-ins for the functions, machines and queue. */
const observed = (
  props: Partial<ObservabilityProps> | ((stack: Stack) => Partial<ObservabilityProps>) = {},
  app = new App(),
) => {
  const stack = new Stack(app, "Observed", {
    env: { account: "123456789012", region: "eu-west-1" },
  });
  const observability = new Observability(stack, "Observability", {
    functions: Object.fromEntries(
      FUNCTIONS.map((name) => [
        name,
        LambdaFunction.fromFunctionName(stack, name, `gpuctl-${name}`),
      ]),
    ),
    stateMachines: Object.fromEntries(
      MACHINES.map((name) => [
        name,
        StateMachine.fromStateMachineName(stack, name, `gpuctl-${name}`),
      ]),
    ),
    deadLetterQueue: Queue.fromQueueArn(
      stack,
      "Dlq",
      "arn:aws:sqs:eu-west-1:123456789012:gpuctl-dead-letters",
    ),
    monthlyBudgetUsd: 50,
    ...(typeof props === "function" ? props(stack) : props),
  });
  return { stack, observability, template: Template.fromStack(stack) };
};

/** A dashboard's body as JSON, each CloudFormation token inside it as "TOKEN". */
const dashboardBody = (dashboard: { Properties: { DashboardBody: unknown } }) => {
  const body = dashboard.Properties.DashboardBody as string | { "Fn::Join": [string, unknown[]] };
  const text =
    typeof body === "string"
      ? body
      : body["Fn::Join"][1].map((part) => (typeof part === "string" ? part : "TOKEN")).join("");
  return JSON.parse(text) as {
    widgets: Array<{ properties: { metrics?: unknown[][]; title?: string } }>;
  };
};

interface ReadMetric {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

/** Every metric a dashboard widget reads: `[namespace, name, dim, value, ..., options?]`. */
const widgetMetrics = (body: ReturnType<typeof dashboardBody>): ReadMetric[] =>
  body.widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).flatMap((line) => {
      const fields = line.filter((field): field is string => typeof field === "string");
      if (fields.length < 2) return []; // a math expression: its metrics are lines of their own
      const [namespace, name, ...pairs] = fields as [string, string, ...string[]];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i < pairs.length; i += 2)
        dimensions[pairs[i] as string] = pairs[i + 1] as string;
      return [{ namespace, name, dimensions }];
    }),
  );

const dashboards = (template: Template) =>
  Object.values(template.findResources("AWS::CloudWatch::Dashboard")).map((resource) =>
    dashboardBody(resource as { Properties: { DashboardBody: unknown } }),
  );

const alarmMetrics = (template: Template): ReadMetric[] =>
  Object.values(template.findResources("AWS::CloudWatch::Alarm")).map(({ Properties }) => ({
    namespace: Properties.Namespace,
    name: Properties.MetricName,
    dimensions: Object.fromEntries(
      (Properties.Dimensions ?? []).map((d: { Name: string; Value: string }) => [d.Name, d.Value]),
    ),
  }));

/** A gpuctl metric is one the code publishes: a catalogue name, exactly its dimensions and `service`. */
const expectCatalogued = (metric: ReadMetric) => {
  expect(metric.namespace).toBe(METRICS_NAMESPACE);
  const entry = METRICS[metric.name as MetricName];
  expect(entry, `${metric.name} is in the catalogue`).toBeDefined();
  const catalogued = entry.dimensions as Record<string, readonly string[]>;
  expect(Object.keys(metric.dimensions).sort()).toEqual(
    ["service", ...Object.keys(catalogued)].sort(),
  );
  expect(metric.dimensions.service).toBe("gpuctl");
  for (const [name, values] of Object.entries(catalogued))
    expect(values).toContain(metric.dimensions[name]);
};

describe("the observability construct", () => {
  it("reads, on its dashboards and alarms, only gpuctl metrics the code publishes, as it publishes them", () => {
    const { template } = observed();
    const read = [...dashboards(template).flatMap(widgetMetrics), ...alarmMetrics(template)];
    const ours = read.filter((metric) => metric.namespace === METRICS_NAMESPACE);
    expect(ours.length).toBeGreaterThan(40);
    for (const metric of ours) expectCatalogued(metric);
    // The rest are AWS's own metrics of the resources it was given.
    expect(new Set(read.map((metric) => metric.namespace))).toEqual(
      new Set([METRICS_NAMESPACE, "AWS/Lambda", "AWS/States", "AWS/SQS"]),
    );
  });

  it("shows each of the 11 timeline periods' p50 and p90, jobs by phase, GPU-hours by use, idle cost", () => {
    const { template } = observed();
    const [jobs] = dashboards(template).filter((body) =>
      body.widgets.some((widget) => widget.properties.title?.startsWith("AIbro timeline")),
    );
    if (!jobs) throw new Error("no dashboard shows the timeline");
    const metrics = widgetMetrics(jobs);
    for (const stat of ["p50", "p90"]) {
      const widget = jobs.widgets.find((w) => w.properties.title?.includes(`period's ${stat}`));
      const lines = widget?.properties.metrics ?? [];
      expect(lines.map((line) => line[3])).toEqual([...TIMELINE_PHASES]);
      for (const line of lines) expect(line.at(-1)).toMatchObject({ stat });
    }
    const names = new Set(metrics.map((metric) => metric.name));
    for (const name of ["JobPhaseEntered", "InstanceSeconds", "IdleCost", "OrphanInstances"])
      expect(names).toContain(name);
    expect(metrics.length).toBeLessThanOrEqual(FREE_DASHBOARD_METRICS);
  });

  it("alarms on a stuck job, an orphan instance and a cancel that could not release its instance, never on their absence at rest, and on dead letters", () => {
    const { template } = observed();
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    for (const metricName of ["StuckJobs", "OrphanInstances", "DeleteFailedJobs"])
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "gpuctl",
        MetricName: metricName,
        Dimensions: [{ Name: "service", Value: "gpuctl" }],
        Statistic: "Sum",
        Period: 300,
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        EvaluationPeriods: 1,
        TreatMissingData: "notBreaching",
        AlarmActions: [{ Ref: Match.stringLikeRegexp("AlarmTopic") }],
      });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: "gpuctl-dead-letters" }],
      TreatMissingData: "notBreaching",
    });
  });

  it("sets a monthly cost budget that notifies the alarm topic, scoped by a cost allocation tag if asked", () => {
    const { template } = observed({ budgetCostTag: { key: "gpuctl:stack", value: "prod" } });
    template.hasResourceProperties("AWS::Budgets::Budget", {
      Budget: {
        BudgetType: "COST",
        TimeUnit: "MONTHLY",
        BudgetLimit: { Amount: 50, Unit: "USD" },
        CostFilters: { TagKeyValue: ["user:gpuctl:stack$prod"] },
      },
      NotificationsWithSubscribers: [
        {
          Notification: { NotificationType: "ACTUAL", Threshold: 80, ThresholdType: "PERCENTAGE" },
          Subscribers: [
            { SubscriptionType: "SNS", Address: { Ref: Match.stringLikeRegexp("AlarmTopic") } },
          ],
        },
        Match.objectLike({ Notification: Match.objectLike({ NotificationType: "FORECASTED" }) }),
      ],
    });
    const unscoped = observed().template.findResources("AWS::Budgets::Budget");
    expect(Object.values(unscoped)[0]?.Properties.Budget.CostFilters).toBeUndefined();
  });

  it("creates a TLS-only topic that CloudWatch and Budgets of this account alone may publish to", () => {
    const { template } = observed();
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Condition: Match.objectLike({ StringEquals: { "aws:SourceAccount": "123456789012" } }),
          }),
          Match.objectLike({
            Principal: { Service: "budgets.amazonaws.com" },
            Action: "sns:Publish",
            Condition: Match.objectLike({ StringEquals: { "aws:SourceAccount": "123456789012" } }),
          }),
        ]),
      },
    });
  });

  it("notifies a topic it is given, and creates none", () => {
    const { template } = observed((stack) => ({
      alarmTopic: new Topic(stack, "Operators", { enforceSSL: true }),
    }));
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "StuckJobs",
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^Operators") }],
    });
  });

  it("refuses a budget that is not a positive amount, naming the field", () => {
    expect(() => observed({ monthlyBudgetUsd: 0 })).toThrow(/monthlyBudgetUsd/);
  });

  it("warns when the functions dashboard outgrows CloudWatch's free tier", () => {
    const app = new App();
    const stack = new Stack(app, "Many");
    new Observability(stack, "Observability", {
      functions: Object.fromEntries(
        Array.from({ length: 17 }, (_, i) => [
          `f${i}`,
          LambdaFunction.fromFunctionName(stack, `f${i}`, `f${i}`),
        ]),
      ),
      stateMachines: {},
      monthlyBudgetUsd: 10,
    });
    Annotations.fromStack(stack).hasWarning("*", Match.stringLikeRegexp("free tier"));
  });

  it("passes cdk-nag's AWS Solutions checks", () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    observed({}, app);
    expect(() => app.synth()).not.toThrow();
  });
});
