import { type Command, Option } from "commander";
import { DIALECTS } from "../../lambdas/domain/dialects/index.ts";
import type { DialectName, JobEventView } from "../../sdk/api-types.ts";
import { renderText, type Table } from "./dialect-table.ts";
import { examples } from "./help.ts";
import { cell, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";
import { DIALECT_LABELS, dialectLine } from "./status.ts";

/** One row per event: when, what caused it, the move it made, why, who, and the dialects it led to. */
export const eventsTable = (
  events: JobEventView[],
  dialects: readonly DialectName[] = DIALECTS,
): Table => ({
  headers: ["time", "event", "phase", "reason", "by", ...dialects.map((d) => DIALECT_LABELS[d])],
  rows: events.map((event) => [
    event.at,
    event.replayOf ? `${event.type} (replay of ${event.replayOf})` : event.type,
    event.from ? `${event.from} → ${event.phase}` : event.phase,
    cell(event.reason),
    cell(event.by?.email),
    ...dialects.map((dialect) => dialectLine(event.dialects, dialect)),
  ]),
});

/** `gpuctl events JOB`: every transition of a job, oldest first. */
export const registerEvents = (program: Command): void => {
  program
    .command("events")
    .description(
      "list a job's transitions, oldest first: time, event, phase moved, reason, who, and its dialects",
    )
    .argument("<job>", "the job id")
    .addOption(outputOption())
    .addOption(new Option("--dialect <name>", "show one dialect only").choices(DIALECTS))
    .addHelpText(
      "after",
      examples([
        ["gpuctl events JOB", "every transition, oldest first"],
        ["gpuctl events JOB --dialect runai", "with the Run:ai status of each"],
        ["gpuctl events JOB -o json"],
      ]),
    )
    .action(
      action(async (id: string, options: { output: OutputFormat; dialect?: DialectName }) => {
        const events = await connect().jobEvents(id);
        if (options.output === "json") printJson(events);
        else {
          const dialects = options.dialect ? [options.dialect] : DIALECTS;
          process.stdout.write(`${renderText(eventsTable(events, dialects))}\n`);
        }
        return 0;
      }),
    );
};
