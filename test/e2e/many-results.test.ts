import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControlPlane } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane();
});
afterAll(async () => {
  await plane?.stop();
});

const FILES = 5000;
/** Long enough names that the list of them alone is over Step Functions' 256 KiB. */
const pathOf = (n: number) =>
  `results/predictions/shard-${String(n % 10).padStart(2, "0")}/sample-${String(n).padStart(5, "0")}-of-05000.json`;

/** Runs `work` on every item, `concurrency` at a time. */
const eachLimited = async <T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
) => {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
};

describe("a job with thousands of result files", () => {
  it("ends COMPLETED, its workflow within Step Functions' limits, with every file downloadable", async () => {
    const submitted = await plane.client.submitJob({
      name: "many-results",
      instance: { types: ["local"] },
      run: [
        'python3 -c "',
        "import os",
        `for n in range(${FILES}):`,
        `    path = 'results/predictions/shard-%02d/sample-%05d-of-05000.json' % (n % 10, n)`,
        "    os.makedirs(os.path.dirname(path), exist_ok=True)",
        "    open(path, 'w').write(str(n))",
        '"',
      ].join("\n"),
      outputs: ["results"],
      coolingPeriodS: 60,
    });

    const done = await plane.finished(submitted.id, 240_000);
    expect(done).toMatchObject({ phase: "COMPLETED", exitCode: 0 });

    const lifecycle = plane.workflows.executions().find(({ name }) => name === submitted.id);
    expect(await plane.workflows.whenDone(lifecycle?.executionId ?? "")).toMatchObject({
      status: "SUCCEEDED",
      // With the logs: stdout, stderr and the inputs' manifest.
      output: { results: { filesCount: FILES + 3, phase: "COMPLETED" } },
    });

    const outputs = new Set(await plane.client.listOutputs(submitted.id));
    const expected = Array.from({ length: FILES }, (_, n) => n);
    expect(expected.filter((n) => !outputs.has(pathOf(n)))).toEqual([]);
    const wrong: number[] = [];
    await eachLimited(expected, 16, async (n) => {
      const bytes = await plane.client.downloadOutput(submitted.id, pathOf(n));
      if (new TextDecoder().decode(bytes) !== String(n)) wrong.push(n);
    });
    expect(wrong).toEqual([]);
  }, 300_000);
});
