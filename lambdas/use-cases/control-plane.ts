import type { CostModel } from "../domain/cooling-policy.ts";
import type {
  Artifacts,
  Clock,
  CommandQueue,
  Compute,
  EventBus,
  InstanceStore,
  JobStore,
  PoolStats,
  Workflows,
} from "../ports.ts";

/** Every port a use case may need, and the settings of this installation. */
export interface ControlPlane {
  jobs: JobStore;
  instances: InstanceStore;
  compute: Compute;
  workflows: Workflows;
  commands: CommandQueue;
  artifacts: Artifacts;
  pools: PoolStats;
  events: EventBus;
  clock: Clock;
  settings: {
    region: string;
    /** Where agents reach the control plane, and the secret their tokens are signed with. */
    agent: { endpoint: string; secret: string };
    /** Prices and boot times the cooling policy weighs. */
    costModel: CostModel;
  };
}
