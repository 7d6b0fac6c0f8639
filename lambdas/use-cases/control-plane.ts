import type { CoolingLimits, CostModel } from "../domain/cooling-policy.ts";
import type {
  Artifacts,
  Clock,
  CommandQueue,
  Compute,
  CoolingTimers,
  EventBus,
  InstanceStore,
  JobStore,
  Metrics,
  Passwords,
  PoolStats,
  UserStore,
  Workflows,
} from "../ports.ts";

/** The settings of this installation. */
export interface Settings {
  region: string;
  /** Where agents reach the control plane, and the secret their tokens are signed with. */
  agent: { endpoint: string; secret: string };
  /** Prices and boot times the cooling policy weighs. */
  costModel: CostModel;
  /** The warm period of a new pool, and the cap on any instance's. */
  cooling: CoolingLimits;
  /** Whether jobs may ask for spot capacity at all. */
  spotAllowed: boolean;
}

/** Every port a use case may need, and the settings of this installation. */
export interface ControlPlane {
  jobs: JobStore;
  instances: InstanceStore;
  compute: Compute;
  workflows: Workflows;
  coolingTimers: CoolingTimers;
  commands: CommandQueue;
  artifacts: Artifacts;
  pools: PoolStats;
  users: UserStore;
  passwords: Passwords;
  events: EventBus;
  metrics: Metrics;
  clock: Clock;
  settings: Settings;
}

export type PortName = Exclude<keyof ControlPlane, "settings">;
export type SettingName = keyof Settings;

/**
 * The ports `P` and settings `S` a use case uses, and nothing else: a Lambda builds only
 * the adapters its use cases name, so its role needs only their permissions. A use case
 * that calls another names the union of both.
 */
export type Ports<P extends PortName, S extends SettingName = never> = Pick<ControlPlane, P> &
  ([S] extends [never] ? unknown : { settings: Pick<Settings, S> });

/** The ports and settings a handler's use cases use, as values: what its Lambda builds. */
export interface Needs<P extends PortName, S extends SettingName> {
  ports: readonly P[];
  settings: readonly S[];
}

export const needs = <P extends PortName, S extends SettingName = never>(
  ports: readonly P[],
  settings: readonly S[] = [],
): Needs<P, S> => ({ ports, settings });

/** What a handler that serves both needs. */
export const bothNeeds = <
  P1 extends PortName,
  S1 extends SettingName,
  P2 extends PortName,
  S2 extends SettingName,
>(
  a: Needs<P1, S1>,
  b: Needs<P2, S2>,
): Needs<P1 | P2, S1 | S2> => ({
  ports: [...new Set([...a.ports, ...b.ports])],
  settings: [...new Set([...a.settings, ...b.settings])],
});

export type PortsOf<N> = N extends Needs<infer P, infer S> ? Ports<P, S> : never;
