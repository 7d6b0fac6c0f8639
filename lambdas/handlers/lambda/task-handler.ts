import { buildPorts } from "../../adapters/aws/build-ports.ts";
import type { Builders } from "../../adapters/aws/builders/builder.ts";
import type { PortName, SettingName } from "../../use-cases/control-plane.ts";
import type { WorkflowTask } from "../workflow/tasks.ts";
import { wrapHandler } from "./wrap-handler.ts";

/**
 * A workflow task as its own Lambda, built with only the ports it names, from the builders
 * its entry hands in. Step Functions' Lambda integration hands it the state's `Payload`; an
 * error it throws reaches the state machine by its name (`gpuctl.NoCapacity`, ...), which the states catch.
 */
export const taskHandler = async <P extends PortName, S extends SettingName>(
  task: WorkflowTask<P, S>,
  builders: NoInfer<Builders<P, S>>,
) => {
  const cp = await buildPorts(task.needs, builders);
  return wrapHandler((payload: unknown) => task.run(cp, payload));
};
