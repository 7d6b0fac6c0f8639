import { writeFile } from "node:fs/promises";
import { extname } from "node:path";
import { type Command, Option } from "commander";
import { TIMELINE_CHARTS, type TimelineChart } from "../../sdk/timeline-chart.ts";
import { examples } from "./help.ts";
import { type OutputFormat, outputOption, printJson } from "./output.ts";
import { action, connect, EXIT_USAGE } from "./run.ts";
import { timelineText } from "./status.ts";

/** Where a picture goes, read from `--out`: its format comes from the file's extension. */
type Destination = { kind: "stdout" } | { kind: "file"; path: string; format: "svg" | "png" };

const destination = (out: string): Destination | undefined => {
  if (out === "-") return { kind: "stdout" };
  const extension = extname(out).toLowerCase();
  if (extension === ".svg" || extension === ".png")
    return { kind: "file", path: out, format: extension === ".svg" ? "svg" : "png" };
  return undefined;
};

const EXAMPLES = examples(
  [
    ["gpuctl timeline job-123", "the periods as a table"],
    ["gpuctl timeline job-123 -o json", "the periods as JSON"],
    ["gpuctl timeline job-123 --chart funnel --out t.svg", "a bar per period, from its start"],
    ["gpuctl timeline job-123 --chart pie --out t.png", "each period's share, with a legend"],
    ["gpuctl timeline job-123 --chart pie --out - > t.svg", "the SVG on standard output"],
  ],
  "A running job can be drawn too: its open period is measured up to now and marked running.",
);

/** `gpuctl timeline JOB`: AIbro's `plot_timeline`, the periods a job passed as a table or a chart. */
export const registerTimeline = (program: Command): void => {
  program
    .command("timeline")
    .description(
      "show the periods a job passed (AIbro's timeline) as a table, or draw them as a funnel or pie chart",
    )
    .argument("<job>", "the job id")
    .addOption(
      new Option("--chart <type>", "draw a chart instead of the table").choices(TIMELINE_CHARTS),
    )
    .option("--out <file>", "where --chart writes: FILE.svg, FILE.png, or - for SVG on stdout")
    .addOption(outputOption())
    .addHelpText("after", EXAMPLES)
    .action(
      action(
        async (
          id: string,
          options: { chart?: TimelineChart; out?: string; output: OutputFormat },
          command: Command,
        ) => {
          const usage = (message: string): never =>
            command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: "gpuctl.usage" });
          const { chart, out, output } = options;
          if (chart === undefined) {
            if (out !== undefined) usage("--out writes a chart: add --chart funnel or --chart pie");
            const timeline = await connect().jobTimeline(id);
            if (output === "json") printJson(timeline);
            else process.stdout.write(`${timelineText(timeline)}\n`);
            return 0;
          }
          if (out === undefined)
            return usage("--chart needs --out FILE.svg, --out FILE.png or --out - (SVG on stdout)");
          const target = destination(out);
          if (target === undefined)
            return usage(`--out ${out}: the file must end in .svg or .png (or be - for stdout)`);
          if (target.kind === "stdout") {
            if (output === "json") usage("--out - writes the SVG itself: leave out -o json");
            process.stdout.write(await connect().plotTimeline(id, { chart }));
            return 0;
          }
          const client = connect();
          const picture =
            target.format === "png"
              ? await client.plotTimeline(id, { chart, format: "png" })
              : await client.plotTimeline(id, { chart });
          await writeFile(target.path, picture);
          const bytes = typeof picture === "string" ? Buffer.byteLength(picture) : picture.length;
          if (output === "json")
            printJson({ path: target.path, chart, format: target.format, bytes });
          else process.stdout.write(`wrote ${target.path} (${chart} chart, ${bytes} bytes)\n`);
          return 0;
        },
      ),
    );
};
