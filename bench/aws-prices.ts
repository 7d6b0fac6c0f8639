/**
 * The AWS list prices the control-plane bench (bench/control-plane.ts) turns its counts into
 * dollars with: us-east-1, on-demand, no free tier, no Savings Plans, no volume tiers past the
 * first. Each price names the page it was read from and when; update both together.
 */
export interface Price {
  /** Dollars per `per` units. */
  usd: number;
  per: number;
  unit: string;
  source: string;
  /** When the source was read (YYYY-MM-DD). */
  read: string;
}

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
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof AWS_PRICES;

/** What `quantity` units cost. */
export const costOf = (name: PriceName, quantity: number): number =>
  (quantity * AWS_PRICES[name].usd) / AWS_PRICES[name].per;
