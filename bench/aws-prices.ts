/**
 * The AWS list prices the benches (bench/control-plane.ts, bench/cost-at-rest.ts) turn their
 * counts into dollars with: us-east-1, on-demand, no free tier, no Savings Plans, no volume tiers past the
 * first. Each price names the page it was read from and when; update both together. The
 * instances' own prices (EC2 hours, the stopped volume) are the control plane's, in
 * lambdas/domain/prices.ts: its cost estimates and the cooling simulator read the same.
 */
import type { Price } from "../lambdas/domain/prices.ts";

const READ = "2026-11-22";

export const AWS_PRICES = {
  stepFunctionsTransition: {
    usd: 0.025,
    per: 1_000,
    unit: "Standard workflow state transitions (retries count too)",
    source: "https://aws.amazon.com/step-functions/pricing/ (US East (N. Virginia): $0.0250)",
    read: READ,
  },
  sqsRequest: {
    usd: 0.4,
    per: 1_000_000,
    unit: "SQS standard queue requests (the agents' mailboxes: send, receive, delete; 64 KB chunks)",
    source: "https://aws.amazon.com/sqs/pricing/",
    read: READ,
  },
  lambdaRequest: {
    usd: 0.2,
    per: 1_000_000,
    unit: "Lambda requests",
    source: "https://aws.amazon.com/lambda/pricing/",
    read: READ,
  },
  lambdaGbSecond: {
    usd: 0.0000166667,
    per: 1,
    unit: "Lambda GB-seconds (x86, first 6 billion GB-s a month; billed per 1 ms)",
    source: "https://aws.amazon.com/lambda/pricing/",
    read: READ,
  },
  dynamoDbReadUnit: {
    usd: 0.125,
    per: 1_000_000,
    unit: "DynamoDB on-demand read request units (Standard table class)",
    // After the on-demand cut of 2024-11-01 (half the old $0.25 / $1.25). The copy of the page
    // read here lacked the table, so the figures come from a second reading:
    // https://airbyte.com/data-engineering-resources/dynamodb-pricing.
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    read: READ,
  },
  dynamoDbWriteUnit: {
    usd: 0.625,
    per: 1_000_000,
    unit: "DynamoDB on-demand write request units (Standard table class)",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    read: READ,
  },
  eventBridgeEvent: {
    usd: 1.0,
    per: 1_000_000,
    unit: "EventBridge custom events published (each 64 KB chunk is one event)",
    // The figure cross-read from https://www.wring.co/blog/aws-eventbridge-pricing-guide.
    source: "https://aws.amazon.com/eventbridge/pricing/",
    read: READ,
  },
  apiGatewayHttpRequest: {
    usd: 1.0,
    per: 1_000_000,
    unit: "API Gateway HTTP API requests (first 300 million a month, 512 KB increments)",
    source:
      "https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html",
    read: READ,
  },
  s3Put: {
    usd: 0.005,
    per: 1_000,
    unit: "S3 Standard PUT requests (the agent's result uploads)",
    // The figure cross-read from https://www.cloudkaramchari.com/blog/understanding-per-1000-put-copy-post-or-list-requests-in-amazon-s3-pricing/.
    source: "https://aws.amazon.com/s3/pricing/",
    read: READ,
  },
  lambdaGbSecondArm: {
    usd: 0.0000133334,
    per: 1,
    unit: "Lambda GB-seconds on arm64 (the stack's functions; first 7.5 billion GB-s a month)",
    source: "https://aws.amazon.com/lambda/pricing/",
    read: READ,
  },
  secretsManagerSecret: {
    usd: 0.4,
    per: 1,
    unit: "Secrets Manager secrets, per secret-month",
    source: "https://aws.amazon.com/secrets-manager/pricing/",
    read: READ,
  },
  cloudWatchAlarm: {
    usd: 0.1,
    per: 1,
    unit: "CloudWatch standard-resolution alarm metrics, per month (the first 10 of an account free)",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    read: READ,
  },
  cloudWatchDashboard: {
    usd: 3,
    per: 1,
    unit: "CloudWatch dashboards, per month (3 of up to 50 metrics each free per account)",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    read: READ,
  },
  cloudWatchLogsIngested: {
    usd: 0.5,
    per: 1,
    unit: "CloudWatch Logs ingested, per GB (standard class)",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    read: READ,
  },
  budget: {
    usd: 0.62,
    per: 1,
    unit: "AWS Budgets, per budget-month ($0.02 a day; an account's first two free)",
    source:
      "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html",
    read: READ,
  },
  kmsKey: {
    usd: 1,
    per: 1,
    unit: "KMS customer managed keys, per key-month",
    source: "https://aws.amazon.com/kms/pricing/",
    read: READ,
  },
  natGatewayHour: {
    usd: 0.045,
    per: 1,
    unit: "NAT gateway hours (before data processed)",
    source: "https://aws.amazon.com/vpc/pricing/",
    read: READ,
  },
  interfaceEndpointHour: {
    usd: 0.01,
    per: 1,
    unit: "VPC interface endpoint hours, per AZ",
    source: "https://aws.amazon.com/privatelink/pricing/",
    read: READ,
  },
  xrayTrace: {
    usd: 5,
    per: 1_000_000,
    unit: "X-Ray traces recorded (the first 100,000 a month free)",
    source: "https://aws.amazon.com/xray/pricing/",
    read: READ,
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof AWS_PRICES;

/** What `quantity` units cost. */
export const costOf = (name: PriceName, quantity: number): number =>
  (quantity * AWS_PRICES[name].usd) / AWS_PRICES[name].per;
