import type {
  Artifacts,
  Clock,
  CommandQueue,
  Compute,
  EventBus,
  InstanceStore,
  JobStore,
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
  events: EventBus;
  clock: Clock;
  settings: {
    region: string;
    /** Where agents reach the control plane, and the bearer token they use. */
    agent: { endpoint: string; token: string };
    /** Cooling period when a job names none. */
    defaultCoolingPeriodS: number;
  };
}
