/**
 * The list prices gpuctl turns time into dollars with: EC2 instance hours and the EBS volume a
 * stopped instance keeps. The control plane's cost estimates, the cooling policy's cost model
 * and the benches (bench/aws-prices.ts) all read them here. us-east-1, Linux, on-demand, no
 * Savings Plans or Reserved Instances; each names the page it was read from and when: update
 * both together.
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

const ON_DEMAND = "https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, US East (N. Virginia))";
const READ = "2026-11-22";
/**
 * g5.xlarge was read from the page (and cross-read at https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026/);
 * the other sizes were transcribed without the page at hand: re-read them before relying on them.
 */
const TRANSCRIBED = "2026-12-07";

const hourly = (usd: number, read = TRANSCRIBED): Price => ({
  usd,
  per: 1,
  unit: "instance-hour, billed per second while running",
  source: ON_DEMAND,
  read,
});

/** On-demand prices of the GPU families the installation offers by default (docs/deploy.md), $ per hour. */
export const EC2_ON_DEMAND: Readonly<Record<string, Price>> = {
  "g5.xlarge": hourly(1.006, READ),
  "g5.2xlarge": hourly(1.212),
  "g5.4xlarge": hourly(1.624),
  "g5.8xlarge": hourly(2.448),
  "g5.12xlarge": hourly(5.672),
  "g5.16xlarge": hourly(4.096),
  "g5.24xlarge": hourly(8.144),
  "g5.48xlarge": hourly(16.288),
  "g6.xlarge": hourly(0.8048),
  "g6.2xlarge": hourly(0.9776),
  "g6.4xlarge": hourly(1.3232),
  "g6.8xlarge": hourly(2.0144),
  "g6.12xlarge": hourly(4.6016),
  "g6.16xlarge": hourly(3.3968),
  "g6.24xlarge": hourly(6.6752),
  "g6.48xlarge": hourly(13.3504),
  "g4dn.xlarge": hourly(0.526),
  "g4dn.2xlarge": hourly(0.752),
  "g4dn.4xlarge": hourly(1.204),
  "g4dn.8xlarge": hourly(2.176),
  "g4dn.12xlarge": hourly(3.912),
  "g4dn.16xlarge": hourly(4.352),
};

/** The root volume a stopped instance keeps: gp3, per GB-month (a month is 730 hours). */
export const EBS_GP3: Price = {
  usd: 0.08,
  per: 1,
  unit: "GB-month of gp3 volume",
  source: "https://aws.amazon.com/ebs/pricing/",
  read: READ,
};

/** The root volume's size, GB: the Deep Learning AMIs' recommended size. */
export const ROOT_VOLUME_GB = 100;

/** The local control plane's instance types: processes on this machine, on no AWS bill. */
export const LOCAL_INSTANCE_TYPES: readonly string[] = ["local", "local-gpu"];

const MONTH_H = 730;

/** What an instance costs by the hour while it runs and while it is stopped, and from which prices. */
export type InstanceRates =
  | { priced: true; runningUsdH: number; stoppedUsdH: number; prices: Record<string, Price> }
  | { priced: false; reason: string };

/**
 * The rates of an instance type. Spot capacity is not priced: its price moves with the
 * market, by zone, and gpuctl does not read it. A type missing from the list is not priced
 * either; a local one costs nothing.
 */
export const instanceRates = (instanceType: string, spot: boolean): InstanceRates => {
  if (LOCAL_INSTANCE_TYPES.includes(instanceType))
    return { priced: true, runningUsdH: 0, stoppedUsdH: 0, prices: {} };
  if (spot)
    return {
      priced: false,
      reason: "spot capacity is not priced: its price moves with the market and is not read",
    };
  const running = EC2_ON_DEMAND[instanceType];
  if (!running) return { priced: false, reason: `no list price for ${instanceType}` };
  return {
    priced: true,
    runningUsdH: running.usd / running.per,
    stoppedUsdH: (ROOT_VOLUME_GB * EBS_GP3.usd) / EBS_GP3.per / MONTH_H,
    prices: { [instanceType]: running, "ebs-gp3": EBS_GP3 },
  };
};
