/**
 * Each Lambda entry bundled as the stack's NodejsFunction bundles it (LAMBDA_BUNDLING, the
 * pinned SDK included): its bundle holds its own use cases and the adapters of the ports
 * it needs, and not the others'. Asserted on the project's modules that put code in the output.
 */
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { LAMBDA_BUNDLING, LAMBDA_ENTRIES } from "../../../lib/constructs/functions.ts";

const bundle = async (entry: string) => {
  const { metafile, outputFiles } = await build({
    entryPoints: [`lambdas/handlers/lambda/${entry}`],
    bundle: true,
    platform: "node",
    format: LAMBDA_BUNDLING.format,
    target: LAMBDA_BUNDLING.target,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    external: [...LAMBDA_BUNDLING.externalModules],
    minify: LAMBDA_BUNDLING.minify,
    metafile: true,
    write: false,
    outdir: "bundle",
    logLevel: "silent",
  });
  const [output] = Object.values(metafile.outputs);
  const modules = Object.entries(output?.inputs ?? {})
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .map(([path]) => path);
  return { modules, text: outputFiles.map((file) => file.text).join("\n") };
};

const S3 = "lambdas/adapters/aws/s3/";
const SFN = "lambdas/adapters/aws/sfn/";
const EC2 = "lambdas/adapters/aws/ec2/";
const SQS = "lambdas/adapters/aws/sqs/";
const EVENTBRIDGE = "lambdas/adapters/aws/eventbridge/";
const HONO = "node_modules/hono/";
const ACQUIRE = "lambdas/use-cases/acquire-instance.ts";
const AGENT_STEPS = "lambdas/use-cases/agent-steps.ts";
const FINISH = "lambdas/use-cases/finish-job.ts";
const REAP = "lambdas/use-cases/reap.ts";
const REAPING = "lambdas/domain/reaping.ts";

/** Module paths (or their folders) a bundle must hold, and must not. */
const ENTRIES: { entry: string; holds: string[]; lacks: string[] }[] = [
  {
    entry: "api.ts",
    holds: ["lambdas/handlers/api/app.ts", "lambdas/use-cases/submit-job.ts", AGENT_STEPS, HONO],
    lacks: [REAP, REAPING, ACQUIRE, "lambdas/use-cases/reconcile-instance.ts"],
  },
  {
    entry: "bootstrap-admin.ts",
    holds: ["lambdas/use-cases/users.ts", "lambdas/adapters/aws/dynamodb/user-store.ts"],
    lacks: [S3, SFN, EC2, SQS, EVENTBRIDGE, HONO, ACQUIRE, AGENT_STEPS, FINISH, REAP],
  },
  {
    entry: "cooling-execution-ended.ts",
    holds: ["lambdas/handlers/events/cooling-execution-ended.ts", FINISH],
    lacks: [S3, SFN, HONO, ACQUIRE, AGENT_STEPS, REAP],
  },
  {
    entry: "ec2-events.ts",
    holds: ["lambdas/handlers/events/ec2-events.ts", "lambdas/use-cases/reconcile-instance.ts"],
    lacks: [S3, HONO, ACQUIRE, AGENT_STEPS, REAP],
  },
  {
    entry: "reaper.ts",
    holds: ["lambdas/handlers/events/reaper.ts", REAP, REAPING],
    lacks: [S3, HONO, ACQUIRE, AGENT_STEPS],
  },
  {
    entry: "teardown.ts",
    holds: ["lambdas/use-cases/tear-down.ts", EC2, SQS],
    lacks: [S3, SFN, EVENTBRIDGE, HONO, ACQUIRE, AGENT_STEPS, FINISH, REAP],
  },
  {
    entry: "tasks/acquire-instance.ts",
    holds: [ACQUIRE, EC2, SQS, `${SFN}step-functions-cooling-timers.ts`],
    lacks: [S3, HONO, AGENT_STEPS, FINISH, REAP, `${SFN}step-functions-workflows.ts`],
  },
  {
    entry: "tasks/dispatch-step.ts",
    holds: [AGENT_STEPS, S3, SQS],
    lacks: [SFN, EVENTBRIDGE, HONO, ACQUIRE, FINISH, REAP],
  },
  {
    entry: "tasks/request-review.ts",
    holds: [FINISH, EVENTBRIDGE],
    lacks: [S3, SFN, SQS, EC2, HONO, ACQUIRE, AGENT_STEPS, REAP],
  },
  {
    entry: "tasks/silent-agent.ts",
    holds: ["lambdas/use-cases/silent-agent.ts", EC2, SQS],
    lacks: [S3, SFN, HONO, ACQUIRE, AGENT_STEPS, FINISH, REAP],
  },
  {
    entry: "tasks/time-out-job.ts",
    holds: [FINISH, SFN],
    lacks: [S3, HONO, ACQUIRE, AGENT_STEPS, REAP],
  },
  {
    entry: "tasks/release-instance.ts",
    holds: [FINISH, SFN, EC2],
    lacks: [S3, HONO, ACQUIRE, AGENT_STEPS, REAP],
  },
  ...["expire-cooling", "expire-stopped", "abandon-cooling"].map((task) => ({
    entry: `tasks/${task}.ts`,
    holds: [FINISH, EC2, SQS],
    lacks: [S3, SFN, HONO, ACQUIRE, AGENT_STEPS, REAP],
  })),
];

/**
 * The task use cases each task entry's bundle defines: its own, and those it calls (a
 * release whose cooling timer cannot start abandons the cooling).
 */
const TASK_USE_CASES: Record<string, string[]> = {
  "tasks/acquire-instance.ts": ["acquireInstance"],
  "tasks/dispatch-step.ts": ["dispatchStep"],
  "tasks/request-review.ts": ["requestReview"],
  "tasks/silent-agent.ts": ["askAboutSilentAgent"],
  "tasks/time-out-job.ts": ["timeOutJob"],
  "tasks/release-instance.ts": ["releaseInstance", "abandonCooling"],
  "tasks/expire-cooling.ts": ["expireCooling"],
  "tasks/expire-stopped.ts": ["expireStopped"],
  "tasks/abandon-cooling.ts": ["abandonCooling"],
};

const holds = (modules: string[], path: string) =>
  modules.some((module) => (path.endsWith("/") ? module.includes(path) : module.endsWith(path)));

describe("each Lambda entry's bundle", () => {
  it("is checked here for every function the stack deploys", () => {
    expect(ENTRIES.map(({ entry }) => entry).sort()).toEqual(Object.values(LAMBDA_ENTRIES).sort());
  });

  it.each(ENTRIES)("$entry holds its own code and not the others'", async (expected) => {
    const { modules, text } = await bundle(expected.entry);
    // An ES module has no `require`: esbuild's shim for one would throw at the first call.
    expect(text).not.toContain("Dynamic require of");
    expect(expected.holds.filter((path) => !holds(modules, path))).toEqual([]);
    expect(expected.lacks.filter((path) => holds(modules, path))).toEqual([]);
    const own = TASK_USE_CASES[expected.entry];
    if (own) {
      const defined = Object.values(TASK_USE_CASES)
        .map(([useCase]) => useCase)
        .filter((useCase) => new RegExp(`^var ${useCase} = `, "m").test(text));
      expect(defined.sort()).toEqual([...own].sort());
    }
  });
});
