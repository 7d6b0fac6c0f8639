/**
 * A compute whose instances are records in memory and whose faults a test draws: launches
 * and starts refused for capacity, calls throttled, instances that vanish or stop outside
 * the control plane. Its errors are the port's (`ComputeError`) and, for throttling, what
 * the SDK throws once its own retries give up (a plain `RequestLimitExceeded`).
 */
import {
  type Clock,
  type Compute,
  ComputeError,
  type ComputeInstance,
  type LaunchRequest,
} from "../../lambdas/ports.ts";

export type ComputeFault =
  | { fault: "noCapacity"; on: "launch" | "start" }
  | { fault: "spotUnavailable" }
  | { fault: "throttled"; on: "launch" | "start" | "close" };

export const throttled = () =>
  Object.assign(new Error("Request limit exceeded."), { name: "RequestLimitExceeded" });

export class FaultyCompute implements Compute {
  readonly instances = new Map<string, ComputeInstance & { spot: boolean }>();
  readonly #faults: ComputeFault[] = [];
  readonly #clock: Clock;
  #launched = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The next call the fault applies to raises it, once. */
  inject(fault: ComputeFault): void {
    this.#faults.push(fault);
  }

  clear(): void {
    this.#faults.length = 0;
  }

  #take(on: "launch" | "start" | "close", spot = false): void {
    const index = this.#faults.findIndex((fault) =>
      fault.fault === "spotUnavailable" ? on === "launch" && spot : fault.on === on,
    );
    if (index < 0) return;
    const [fault] = this.#faults.splice(index, 1);
    if (fault?.fault === "throttled") throw throttled();
    if (fault?.fault === "spotUnavailable")
      throw new ComputeError("SpotUnavailable", "spot request not fulfilled");
    throw new ComputeError("InsufficientInstanceCapacity", `no capacity to ${on}`);
  }

  async instanceTypes() {
    return ["g5.xlarge", "g6.xlarge"];
  }

  async launch(request: LaunchRequest) {
    const known = this.instances.get(request.instanceId);
    if (known) return { providerId: known.providerId };
    this.#take("launch", request.spot);
    const providerId = `i-${String(++this.#launched).padStart(8, "0")}`;
    this.instances.set(request.instanceId, {
      instanceId: request.instanceId,
      providerId,
      state: "running",
      launchedAt: this.#clock.now(),
      spot: request.spot,
    });
    return { providerId };
  }

  #set(instanceId: string, state: ComputeInstance["state"]) {
    const instance = this.instances.get(instanceId);
    if (instance && instance.state !== "terminated") instance.state = state;
  }

  async start(instanceId: string) {
    this.#take("start");
    const instance = this.instances.get(instanceId);
    if (instance?.state !== "stopped")
      throw new ComputeError("InsufficientInstanceCapacity", `${instanceId} cannot be started`);
    instance.state = "running";
  }

  async stop(instanceId: string) {
    this.#take("close");
    this.#set(instanceId, "stopped");
  }

  async terminate(instanceId: string) {
    this.#take("close");
    this.#set(instanceId, "terminated");
  }

  async serviceAddress(_instanceId: string, port: number) {
    return { host: "127.0.0.1", port };
  }

  async list() {
    return [...this.instances.values()].map(({ spot: _, ...instance }) => ({ ...instance }));
  }

  /**
   * The instance goes away (or stops) without the control plane: its provider id and the
   * state it is in now, if it ran. A one-time spot instance shut down from inside is
   * terminated, as on EC2.
   */
  vanish(
    instanceId: string,
    as: "stopped" | "terminated",
  ): { providerId: string; state: "stopped" | "terminated" } | undefined {
    const instance = this.instances.get(instanceId);
    if (!instance || instance.state === "terminated" || instance.state === "stopped")
      return undefined;
    instance.state = instance.spot ? "terminated" : as;
    return { providerId: instance.providerId, state: instance.state };
  }

  running(): string[] {
    return [...this.instances.values()]
      .filter((instance) => instance.state === "running")
      .map((instance) => instance.instanceId);
  }
}
