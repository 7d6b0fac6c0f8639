import type { Command } from "commander";
import type { InstanceView } from "../../sdk/api-types.ts";
import { costFigure } from "../../sdk/cost-text.ts";
import { renderText } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { age, cell, type OutputFormat, outputOption, printJson, until } from "./output.ts";
import { action, connect } from "./run.ts";

export const instancesTable = (instances: InstanceView[], now: number = Date.now()) => ({
  headers: ["id", "status", "substatus", "type", "job", "stops", "terminates", "updated", "cost"],
  rows: instances.map((instance) => {
    // Stopping at `coolingUntil` only when the plan keeps it stopped for a while after.
    const stops =
      instance.coolingUntil !== instance.stoppedUntil ? instance.coolingUntil : undefined;
    return [
      instance.id,
      instance.status,
      cell(instance.substatus),
      instance.instanceType,
      cell(instance.jobId),
      until(stops, now),
      until(instance.stoppedUntil, now),
      age(instance.updatedAt, now),
      costFigure(instance.cost),
    ];
  }),
});

/** `gpuctl instances`: the caller's own instances (those of their jobs), with their lifecycle status. */
export const registerInstances = (program: Command): void => {
  program
    .command("instances")
    .description(
      "list the GPU instances of your jobs (an admin: everyone's), their status and what each has cost so far",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples([
        ["gpuctl instances", "status and cost so far of each"],
        ["gpuctl instances -o json | jq '.[].cost'"],
      ]),
    )
    .action(
      action(async ({ output }: { output: OutputFormat }) => {
        const instances = await connect().listInstances();
        if (output === "json") printJson(instances);
        else if (instances.length === 0) process.stdout.write("no instances\n");
        else process.stdout.write(`${renderText(instancesTable(instances))}\n`);
        return 0;
      }),
    );
};
