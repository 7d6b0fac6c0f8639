import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { ComputeError } from "../../../ports.ts";

/** The refusals of RunInstances and StartInstances that mean "no GPU here now"; no instance was made. */
export const CAPACITY_ERRORS = [
  "InsufficientInstanceCapacity",
  "InstanceLimitExceeded",
  "VcpuLimitExceeded",
  "MaxSpotInstanceCountExceeded",
  "SpotMaxPriceTooLow",
  "Unsupported",
] as const;
export type CapacityError = (typeof CAPACITY_ERRORS)[number];

export const isCapacityError = (name: string): name is CapacityError =>
  (CAPACITY_ERRORS as readonly string[]).includes(name);

/**
 * Whether another subnet (another AZ) may do better. Capacity, spot prices and the types an
 * AZ offers differ by AZ; quotas are the region's, so another subnet only repeats the refusal.
 */
export const anotherSubnetMayHelp = (name: CapacityError): boolean =>
  name === "InsufficientInstanceCapacity" ||
  name === "SpotMaxPriceTooLow" ||
  name === "Unsupported";

const QUOTAS: readonly CapacityError[] = ["InstanceLimitExceeded", "VcpuLimitExceeded"];

/**
 * The port's error for a launch every subnet refused, `refusals` in the order tried. Any
 * spot refusal is `SpotUnavailable`, so the job may fall back to on-demand; on-demand, a
 * quota wins (waiting does not end it, asking AWS does), then a shortage, and a type that
 * no AZ supports cannot be launched at all.
 */
export const launchRefused = (
  request: { instanceType: string; spot: boolean },
  refusals: Array<{ subnetId: string; name: CapacityError; message: string }>,
): ComputeError => {
  const market = request.spot ? "spot" : "on-demand";
  const detail = refusals.map((r) => `${r.subnetId}: ${r.name} (${r.message})`).join("; ");
  const message = `${request.instanceType} ${market} refused in every subnet tried: ${detail}`;
  const names = refusals.map((refusal) => refusal.name);
  if (request.spot) return new ComputeError("SpotUnavailable", message);
  if (names.some((name) => QUOTAS.includes(name)))
    return new ComputeError("QuotaExceeded", message);
  if (names.every((name) => name === "Unsupported"))
    return new ComputeError("InvalidInstanceType", message);
  return new ComputeError("InsufficientInstanceCapacity", message);
};

/**
 * EC2's refusal for the request rate. The SDK retries it with back-off itself; one that is
 * still refused after those retries is the port's `Throttled`, so the caller asks again
 * later rather than take it for a fault of the job.
 */
const THROTTLING_ERRORS: readonly string[] = ["RequestLimitExceeded"];

/** `request`'s answer; still throttled after the SDK's retries, the port's `Throttled`. */
export const unthrottled = async <T>(call: string, request: Promise<T>): Promise<T> => {
  try {
    return await request;
  } catch (error) {
    if (error instanceof EC2ServiceException && THROTTLING_ERRORS.includes(error.name))
      throw new ComputeError("Throttled", `${call}: ${error.name} (${error.message})`);
    throw error;
  }
};

/** The capacity refusal `error` is, if it is one. */
export const capacityErrorOf = (error: unknown): CapacityError | undefined =>
  error instanceof EC2ServiceException && isCapacityError(error.name) ? error.name : undefined;
