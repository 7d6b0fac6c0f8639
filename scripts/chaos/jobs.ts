/**
 * The jobs a campaign submits: quick training runs, runs that fail and are retried up to
 * their backoff limit, spot runs that checkpoint, and longer runs still training when the
 * faults hit. Plain Python and shell, as the local agents run them.
 */
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import type { Random } from "./random.ts";

const train = (epochs: number, pauseS: number) =>
  [
    'python3 -c "',
    "import json, os, time",
    "os.makedirs('checkpoints', exist_ok=True); os.makedirs('results', exist_ok=True)",
    `for e in range(${epochs}):`,
    `    time.sleep(${pauseS}); open(f'checkpoints/epoch-{e}.json', 'w').write(json.dumps({'epoch': e}))`,
    "open('results/model.json', 'w').write(json.dumps({'loss': 0.01}))\"",
  ].join("\n");

const JOB_KINDS = {
  training: (name: string): JobSpecInput => ({
    name,
    instance: { types: ["local"] },
    run: train(2, 0.2),
    outputs: ["results"],
    coolingPeriodS: 30,
  }),
  retried: (name: string): JobSpecInput => ({
    name,
    instance: { types: ["local"] },
    run: "echo 'failing on purpose' >&2; exit 3",
    backoffLimit: 1,
    coolingPeriodS: 30,
  }),
  spot: (name: string): JobSpecInput => ({
    name,
    instance: { types: ["local"], spot: true },
    run: train(4, 0.5),
    outputs: ["results"],
    checkpointDir: "checkpoints",
  }),
  long: (name: string): JobSpecInput => ({
    name,
    instance: { types: ["local"] },
    run: train(6, 1),
    outputs: ["results"],
    coolingPeriodS: 30,
  }),
};
export type ChaosJobKind = keyof typeof JOB_KINDS;

/** `count` jobs, one of each kind first, then drawn from the seed. */
export const campaignJobs = (count: number, random: Random): JobSpecInput[] => {
  const kinds = Object.keys(JOB_KINDS) as ChaosJobKind[];
  return Array.from({ length: count }, (_, index) => {
    const kind = kinds[index] ?? (random.pick(kinds) as ChaosJobKind);
    return JOB_KINDS[kind](`chaos-${index}-${kind}`);
  });
};
