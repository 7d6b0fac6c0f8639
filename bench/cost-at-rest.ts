/**
 * `npm run bench:cost-at-rest`: what the deployed stack costs in a month with no job, priced
 * from the template `npm run synth` makes (the same config, context and constructs), at the
 * list prices of bench/aws-prices.ts with no free tier. Whatever bills by the hour or the
 * month is counted from the template's resources (secrets, alarms, dashboards, budgets, KMS
 * keys, NAT gateways, interface endpoints); whatever runs on a schedule from its rules (the
 * reaper), each run at the assumptions below. A resource billed only per request, per GB
 * stored or per use (the API, the table, the buckets, the state machines, the queues, the
 * topics) costs nothing at rest and is not listed.
 */
import { FREE_DASHBOARD_METRICS } from "../lib/constructs/observability.ts";
import { controlPlaneApp } from "../lib/control-plane-app.ts";
import { AWS_PRICES, costOf, type PriceName } from "./aws-prices.ts";

const GOAL_USD = 1;
const HOURS_PER_MONTH = 730;
const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;
/** CloudWatch's free dashboards per account; beyond them, or over the metrics, each is billed. */
const FREE_DASHBOARDS = 3;
const FREE_BUDGETS = 2;
/**
 * One scheduled run with nothing to do (the reaper at rest): a DescribeInstances (free) and a
 * few queries of the table, the Lambda report and a log line or two, one trace.
 */
const SCHEDULED_RUN = { durationMs: 300, readUnits: 4, logBytes: 1_200, traces: 1 };

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** A CloudFormation string, its tokens replaced by a stand-in. */
const text = (value: unknown): string => {
  if (typeof value === "string") return value;
  const join = (value as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  return join ? join[1].map(text).join(join[0]) : "TOKEN";
};

const dashboardMetrics = (body: unknown): number => {
  const widgets = (
    JSON.parse(text(body)) as { widgets: { properties?: { metrics?: unknown[] } }[] }
  ).widgets;
  return widgets.reduce((sum, widget) => sum + (widget.properties?.metrics?.length ?? 0), 0);
};

const runsPerMonth = (schedule: string): number => {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!rate) throw new Error(`schedule ${schedule}: only rate(...) expressions are priced`);
  const every = Number(rate[1]) * ({ m: 1, h: 60, d: 1440 }[rate[2]?.[0] as "m" | "h" | "d"] ?? 1);
  return MINUTES_PER_MONTH / every;
};

const { app, stack } = await controlPlaneApp({ "aws:cdk:bundling-stacks": [] });
const byLogicalId = app.synth().getStackByName(stack.stackName).template.Resources as Record<
  string,
  Resource
>;
const ofType = (type: string) =>
  Object.values(byLogicalId).filter((resource) => resource.Type === type);

const lines: { what: string; quantity: string; usd: number }[] = [];
const add = (what: string, quantity: string, usd: number) => lines.push({ what, quantity, usd });
const monthly = (what: string, count: number, price: PriceName) => {
  if (count > 0) add(what, `${count}`, costOf(price, count));
};

monthly(
  "Secrets Manager secrets",
  ofType("AWS::SecretsManager::Secret").length,
  "secretsManagerSecret",
);
monthly("CloudWatch alarms", ofType("AWS::CloudWatch::Alarm").length, "cloudWatchAlarm");
const dashboards = ofType("AWS::CloudWatch::Dashboard").map((d) =>
  dashboardMetrics(d.Properties?.DashboardBody),
);
const billedDashboards = Math.max(
  dashboards.filter((metrics) => metrics > FREE_DASHBOARD_METRICS).length,
  dashboards.length - FREE_DASHBOARDS,
);
add(
  "CloudWatch dashboards",
  `${dashboards.length} (metrics: ${dashboards.join(", ")}; ${billedDashboards} billed)`,
  costOf("cloudWatchDashboard", billedDashboards),
);
const budgets = ofType("AWS::Budgets::Budget").length;
add("Budgets", `${budgets}`, costOf("budget", Math.max(0, budgets - FREE_BUDGETS)));
monthly("KMS customer managed keys", ofType("AWS::KMS::Key").length, "kmsKey");
monthly(
  "NAT gateway hours",
  ofType("AWS::EC2::NatGateway").length * HOURS_PER_MONTH,
  "natGatewayHour",
);
const interfaceEndpointAzs = ofType("AWS::EC2::VPCEndpoint")
  .filter((endpoint) => endpoint.Properties?.VpcEndpointType === "Interface")
  .reduce((sum, endpoint) => sum + ((endpoint.Properties?.SubnetIds as unknown[]) ?? []).length, 0);
monthly(
  "VPC interface endpoint hours",
  interfaceEndpointAzs * HOURS_PER_MONTH,
  "interfaceEndpointHour",
);

for (const rule of ofType("AWS::Events::Rule")) {
  const schedule = rule.Properties?.ScheduleExpression as string | undefined;
  if (!schedule) continue;
  const runs = runsPerMonth(schedule);
  for (const target of (rule.Properties?.Targets ?? []) as { Arn: unknown }[]) {
    const logicalId = (target.Arn as { "Fn::GetAtt"?: string[] })["Fn::GetAtt"]?.[0] ?? "";
    const fn = byLogicalId[logicalId];
    if (fn?.Type !== "AWS::Lambda::Function") continue;
    const memoryGb = Number(fn.Properties?.MemorySize ?? 128) / 1024;
    const traced =
      (fn.Properties?.TracingConfig as { Mode?: string } | undefined)?.Mode === "Active";
    const usd =
      costOf("lambdaRequest", runs) +
      costOf("lambdaGbSecondArm", (runs * memoryGb * SCHEDULED_RUN.durationMs) / 1000) +
      costOf("dynamoDbReadUnit", runs * SCHEDULED_RUN.readUnits) +
      costOf("cloudWatchLogsIngested", (runs * SCHEDULED_RUN.logBytes) / 1e9) +
      (traced ? costOf("xrayTrace", runs * SCHEDULED_RUN.traces) : 0);
    add(`${logicalId} on ${schedule}`, `${Math.round(runs)} runs`, usd);
  }
}

const total = lines.reduce((sum, line) => sum + line.usd, 0);
const width = Math.max(...lines.map((line) => line.what.length));
console.log(
  `gpuctl at rest, a month with no job (list prices, no free tier; read ${AWS_PRICES.cloudWatchAlarm.read}):`,
);
for (const line of lines)
  console.log(
    `  ${line.what.padEnd(width)}  $${line.usd.toFixed(3).padStart(7)}  ${line.quantity}`,
  );
console.log(`  ${"total".padEnd(width)}  $${total.toFixed(3).padStart(7)}`);
console.log(
  `goal: under $${GOAL_USD.toFixed(2)} a month: ${total < GOAL_USD ? "met" : "NOT met"}` +
    ` (each scheduled run assumed ${SCHEDULED_RUN.durationMs} ms, ${SCHEDULED_RUN.readUnits} read units, ${SCHEDULED_RUN.logBytes} bytes of logs)`,
);
