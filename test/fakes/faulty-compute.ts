/**
 * A compute whose instances are records in memory and whose faults a test draws: launches
 * and starts refused for capacity, calls throttled, instances that vanish or stop outside
 * the control plane, agents that hang until restarted. Its errors are the port's
 * (`ComputeError`), as the EC2 adapter maps EC2's.
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

export class FaultyCompute implements Compute {
  readonly instances = new Map<string, ComputeInstance & { spot: boolean }>();
  readonly #faults: ComputeFault[] = [];
  /** Instances whose agent is alive but silent. */
  readonly hung = new Set<string>();
  readonly #clock: Clock;
  readonly #onAgentRestart: (instanceId: string) => void;
  #launched = 0;

  constructor(clock: Clock, onAgentRestart: (instanceId: string) => void = () => {}) {
    this.#clock = clock;
    this.#onAgentRestart = onAgentRestart;
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
    if (fault?.fault === "throttled") throw new ComputeError("Throttled", `${on} throttled`);
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

  async restartAgent(instanceId: string) {
    if (this.instances.get(instanceId)?.state !== "running")
      throw new Error(`${instanceId} is not running: its agent cannot be restarted`);
    this.hung.delete(instanceId);
    this.#onAgentRestart(instanceId);
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
