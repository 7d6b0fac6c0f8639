/**
 * Faults a `Compute` raises on demand, so the control plane's answers to a cloud's bad days
 * (no capacity, spot not granted, a slow launch, a stopped instance that will not start, a
 * stop or terminate that fails, throttling) run locally: in tests, in the chaos campaign, and
 * under `npm start` with GPUCTL_FAULTS. They raise the very `ComputeError` codes the EC2
 * adapter maps EC2's refusals to (lambdas/adapters/aws/ec2/launch-errors.ts).
 */
import { z } from "zod";
import { fieldErrors } from "../../domain/field-errors.ts";
import { type Compute, ComputeError } from "../../ports.ts";

export const COMPUTE_FAULTS = [
  /** Launches and starts refused `InsufficientInstanceCapacity` (a spot launch: `SpotUnavailable`, as on EC2). */
  "noCapacity",
  /** Spot launches refused `SpotUnavailable`; on-demand ones go through. */
  "spotUnavailable",
  /** Launches wait `delayMs` before they are made. */
  "launchSlow",
  /** Starts of stopped instances refused `InsufficientInstanceCapacity`. */
  "startFails",
  /** Stops and terminates fail, with an error that is no refusal: nothing was closed. */
  "closeFails",
  /** Every call that is a request to the cloud refused `Throttled`, as EC2's RequestLimitExceeded. */
  "throttled",
  /**
   * A spot instance launched gets EC2's interruption notice `delayMs` after its launch, and is
   * gone `noticeMs` after the notice (two minutes by default, as on EC2).
   */
  "spotInterruption",
] as const;

/** The faults that take a `delayMs`. */
const DELAYED: readonly ComputeFault[] = ["launchSlow", "spotInterruption"];

/** EC2's two minutes between a spot interruption notice and the instance's end. */
const EC2_SPOT_NOTICE_MS = 120_000;
export type ComputeFault = (typeof COMPUTE_FAULTS)[number];

export const ComputeFaultRuleSchema = z
  .strictObject({
    fault: z.enum(COMPUTE_FAULTS),
    /** Only calls for this instance type; every type when absent. */
    instanceType: z.string().min(1).optional(),
    /** Only this many calls, then the rule is spent; every call when absent. */
    times: z.number().int().min(1).optional(),
    /** launchSlow: how long each launch waits; spotInterruption: how long after its launch the notice comes. At most an hour. */
    delayMs: z.number().int().min(0).max(3_600_000).optional(),
    /** spotInterruption: how long the notice lasts before the instance goes; at most two minutes. */
    noticeMs: z.number().int().min(0).max(EC2_SPOT_NOTICE_MS).optional(),
  })
  .refine((rule) => DELAYED.includes(rule.fault) === (rule.delayMs !== undefined), {
    message: `delayMs is given with ${DELAYED.join(" and ")}, and only with them`,
    path: ["delayMs"],
  })
  .refine((rule) => rule.fault === "spotInterruption" || rule.noticeMs === undefined, {
    message: "noticeMs is given with spotInterruption only",
    path: ["noticeMs"],
  });
export type ComputeFaultRule = z.infer<typeof ComputeFaultRuleSchema>;

const describeRule = (rule: ComputeFaultRule) =>
  `${rule.fault}${rule.instanceType ? ` on ${rule.instanceType}` : ""}`;

/** The faults in force: injected one rule at a time, each spent after its `times`. */
export class ComputeFaults {
  readonly #rules: Array<{ rule: ComputeFaultRule; left: number | undefined }> = [];

  /** Adds a rule; one that is not a rule (from JSON, say) is refused, naming the field. */
  inject(rule: ComputeFaultRule): void {
    const parsed = ComputeFaultRuleSchema.safeParse(rule);
    if (!parsed.success) throw new Error(`not a compute fault: ${faultProblems(parsed.error)}`);
    this.#rules.push({ rule: parsed.data, left: parsed.data.times });
  }

  /** Ends every fault: the compute works again. */
  clear(): void {
    this.#rules.length = 0;
  }

  /** Whether any rule is in force. */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  /** The rules in force, each with the calls it has left. */
  get rules(): ComputeFaultRule[] {
    return this.#rules.map(({ rule, left }) => ({
      ...rule,
      ...(left !== undefined ? { times: left } : {}),
    }));
  }

  /**
   * The first rule of `fault` that holds for a call on `instanceType` (undefined: a type not
   * known), one of its times spent; undefined when none does.
   */
  take(fault: ComputeFault, instanceType: string | undefined): ComputeFaultRule | undefined {
    const index = this.#rules.findIndex(
      ({ rule }) =>
        rule.fault === fault &&
        (rule.instanceType === undefined || rule.instanceType === instanceType),
    );
    const found = this.#rules[index];
    if (!found) return undefined;
    if (found.left !== undefined && --found.left === 0) this.#rules.splice(index, 1);
    return found.rule;
  }
}

const faultProblems = (error: z.ZodError) =>
  fieldErrors(error, "(rule)")
    .map(({ field, message }) => `${field}: ${message}`)
    .join("; ");

/**
 * The rules of GPUCTL_FAULTS: a JSON array of rules, or nothing when it is unset or empty.
 * Anything else is refused with what is wrong and where, so a mistyped fault is not silently
 * a compute without faults.
 */
export const parseComputeFaultRules = (json: string | undefined): ComputeFaultRule[] => {
  if (!json?.trim()) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`GPUCTL_FAULTS is not JSON: ${(error as Error).message}`);
  }
  const parsed = z.array(ComputeFaultRuleSchema).safeParse(value);
  if (!parsed.success)
    throw new Error(
      `GPUCTL_FAULTS must be a JSON array of rules like [{"fault":"noCapacity","instanceType":"local","times":3}] (faults: ${COMPUTE_FAULTS.join(", ")}): ${faultProblems(parsed.error)}`,
    );
  return parsed.data;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `compute` with `faults` in force. A call naming an instance, not a type (start, stop,
 * terminate), finds its type with `instanceTypeOf`, asked only while a fault is in force;
 * one of unknown type meets only the rules for every type.
 */
export const withComputeFaults = (
  compute: Compute,
  faults: ComputeFaults,
  instanceTypeOf: (instanceId: string) => Promise<string | undefined>,
  /** Interrupts a spot instance (its notice now, its end `noticeMs` later): the compute's own. */
  interrupt: (instanceId: string, noticeMs: number) => void = () => {},
): Compute => {
  const typeOf = async (instanceId: string) =>
    faults.active ? instanceTypeOf(instanceId) : undefined;
  const throttle = (call: string, instanceType?: string) => {
    if (faults.take("throttled", instanceType))
      throw new ComputeError("Throttled", `${call}: request limit exceeded (injected throttled)`);
  };
  const close = async (call: "stop" | "terminate", instanceId: string) => {
    const instanceType = await typeOf(instanceId);
    throttle(`${call} ${instanceId}`, instanceType);
    if (faults.take("closeFails", instanceType))
      throw new Error(`${call} ${instanceId} failed (injected closeFails)`);
    return compute[call](instanceId);
  };
  return {
    instanceTypes: () => compute.instanceTypes(),
    launch: async (request) => {
      const { instanceType, spot } = request;
      const what = `${instanceType} ${spot ? "spot" : "on-demand"} launch of ${request.instanceId}`;
      throttle(what, instanceType);
      const refused =
        faults.take("noCapacity", instanceType) ??
        (spot ? faults.take("spotUnavailable", instanceType) : undefined);
      if (refused)
        throw new ComputeError(
          spot ? "SpotUnavailable" : "InsufficientInstanceCapacity",
          `${what} refused: no capacity (injected ${describeRule(refused)})`,
        );
      const slow = faults.take("launchSlow", instanceType);
      if (slow?.delayMs) await sleep(slow.delayMs);
      const launched = await compute.launch(request);
      const notice = spot ? faults.take("spotInterruption", instanceType) : undefined;
      if (notice)
        setTimeout(
          () => interrupt(request.instanceId, notice.noticeMs ?? EC2_SPOT_NOTICE_MS),
          notice.delayMs,
        ).unref();
      return launched;
    },
    start: async (instanceId, agent) => {
      const instanceType = await typeOf(instanceId);
      throttle(`start of ${instanceId}`, instanceType);
      const refused =
        faults.take("noCapacity", instanceType) ?? faults.take("startFails", instanceType);
      if (refused)
        throw new ComputeError(
          "InsufficientInstanceCapacity",
          `${instanceId} cannot start now: no capacity (injected ${describeRule(refused)})`,
        );
      return compute.start(instanceId, agent);
    },
    stop: (instanceId) => close("stop", instanceId),
    restartAgent: async (instanceId) => {
      throttle(`agent restart of ${instanceId}`, await typeOf(instanceId));
      return compute.restartAgent(instanceId);
    },
    terminate: (instanceId) => close("terminate", instanceId),
    serviceAddress: async (instanceId, port) => {
      throttle(`service address of ${instanceId}`, await typeOf(instanceId));
      return compute.serviceAddress(instanceId, port);
    },
    list: async () => {
      throttle("list");
      return compute.list();
    },
  };
};
