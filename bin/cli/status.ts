import { type Command, Option } from "commander";
import type { JobDialects } from "../../lambdas/domain/dialects/index.ts";
import { DIALECTS } from "../../lambdas/domain/dialects/index.ts";
import type { DialectName, JobView, TimelineView } from "../../sdk/api-types.ts";
import { ApiRequestError } from "../../sdk/client.ts";
import { costText } from "../../sdk/cost-text.ts";
import { formatDuration } from "../../sdk/timeline-chart.ts";
import { examples } from "./help.ts";
import { alignColumns, type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect } from "./run.ts";

export const DIALECT_LABELS: Record<DialectName, string> = {
  aibro: "AIbro",
  runai: "Run:ai",
  modelarts: "ModelArts",
};

/** One dialect's status on one line (`RUNNING / TRAINING`, `8 Running`). */
export const dialectLine = (dialects: JobDialects, dialect: DialectName): string => {
  switch (dialect) {
    case "aibro": {
      const { status, substatus } = dialects.aibro;
      return `${status} / ${substatus}`;
    }
    case "runai": {
      const { status, endState, resourceAllocation } = dialects.runai;
      const notes = [endState && "end state", resourceAllocation && "allocates resources"];
      const said = notes.filter(Boolean).join(", ");
      return said ? `${status} (${said})` : status;
    }
    case "modelarts": {
      const { code, name } = dialects.modelarts;
      return `${code} ${name}`;
    }
  }
};

/** A period's length; one recorded with a date that does not parse has none (JSON `null`). */
const seconds = (value: number | null): string => (value === null ? "?" : formatDuration(value));

/** The readable summary: one `label  value` line per fact, then the timeline periods. */
export const statusText = (
  job: JobView,
  timeline: TimelineView,
  dialects: readonly DialectName[] = DIALECTS,
): string => {
  const facts: Array<[string, string | number | undefined]> = [
    ["Job", `${job.id} (${job.name})`],
    ["Kind", job.kind],
    ["Phase", job.phase],
    ["Reason", job.reason],
    ["Exit code", job.exitCode],
    ["Attempt", job.requeues > 0 ? `${job.attempt} (requeued ${job.requeues}x)` : job.attempt],
    ["Workers", job.workersTotal > 1 ? `${job.workersReady}/${job.workersTotal} ready` : undefined],
    ["Instance", job.instanceId],
    ["Model", job.modelName],
    ["Endpoint", job.endpoint],
    ["Replay of", job.replayOf],
    ["Description", job.description],
    ["Cost", job.cost && costText(job.cost)],
    ...dialects.map((dialect): [string, string] => [
      DIALECT_LABELS[dialect],
      dialectLine(job.dialects, dialect),
    ]),
    ["Created", job.createdAt],
    ["Updated", job.updatedAt],
  ];
  const summary = alignColumns(
    facts.flatMap(([label, value]) => (value === undefined ? [] : [[`${label}:`, String(value)]])),
  );
  return `${summary}\n${timelineText(timeline)}`;
};

/** The timeline periods, one `name  seconds  (running)` line each, under a `Timeline:` heading. */
export const timelineText = (timeline: TimelineView): string => {
  if (timeline.periods.length === 0) return "Timeline:  none yet";
  const periods = alignColumns(
    timeline.periods.map((period) => [
      `  ${period.phase}`,
      seconds(period.seconds).padStart(8),
      period.endedAt ? "" : "(running)",
    ]),
  );
  return `Timeline:\n${periods}`;
};

/** `gpuctl status JOB`: one job's phase, its dialects and its timeline. */
export const registerStatus = (program: Command): void => {
  program
    .command("status")
    .description("show a job's phase, reason, attempt, instance, dialects and timeline")
    .argument("<job>", "the job id")
    .addOption(outputOption())
    .addOption(
      new Option(
        "--dialect <name>",
        "show (and, in JSON, add as `status`) one dialect only",
      ).choices(DIALECTS),
    )
    .addHelpText(
      "after",
      examples([
        ["gpuctl status JOB", "its phase, reason, cost and timeline"],
        ["gpuctl status JOB --dialect aibro", "its status as AIbro names it"],
        ["gpuctl status JOB -o json | jq .cost"],
      ]),
    )
    .action(
      action(async (id: string, options: { output: OutputFormat; dialect?: DialectName }) => {
        const client = connect();
        const job = await client.getJob(id, options.dialect ? { dialect: options.dialect } : {});
        const timeline = await client.jobTimeline(id).catch((error: unknown) => {
          // A reviewer reads a job awaiting their review, not its timeline: it has none yet.
          if (error instanceof ApiRequestError && error.status === 404) return { periods: [] };
          throw error;
        });
        if (options.output === "json") {
          printJson({ ...job, timeline: timeline.periods });
          return 0;
        }
        const dialects = options.dialect ? [options.dialect] : DIALECTS;
        process.stdout.write(`${statusText(job, timeline, dialects)}\n`);
        return 0;
      }),
    );
};
