import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AIBRO_JOB_STATUSES,
  AIBRO_JOB_SUBSTATUSES,
} from "../../../lambdas/domain/dialects/aibro.ts";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import { MODELARTS_CODES } from "../../../lambdas/domain/dialects/modelarts.ts";
import { RUNAI_TABLE } from "../../../lambdas/domain/dialects/runai.ts";
import { type Job, submitJob } from "../../../lambdas/domain/job.ts";
import { jobHistory } from "../../../lambdas/domain/job-history.ts";
import { JobSchema } from "../../../lambdas/domain/job-record.ts";
import {
  ATTEMPT_FAILURE_REASONS,
  isTerminal,
  JOB_KINDS,
  WAIT_REASONS,
} from "../../../lambdas/domain/phases.ts";
import { SAMPLE_EVENTS } from "../../../lambdas/domain/reachable.ts";
import { type JobEvent, transition } from "../../../lambdas/domain/transitions.ts";

const arbRetryPolicy = fc.record({
  backoffLimit: fc.integer({ min: 0, max: 3 }),
  rules: fc.array(
    fc.record(
      {
        action: fc.constantFrom("retry", "fail", "ignore"),
        onExitCodes: fc.record({
          operator: fc.constantFrom("In", "NotIn"),
          values: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
        }),
        onReasons: fc.subarray([...ATTEMPT_FAILURE_REASONS], { minLength: 1 }),
      },
      { requiredKeys: ["action"] },
    ),
    { maxLength: 3 },
  ),
});

const arbJob = fc
  .record({
    kind: fc.constantFrom(...JOB_KINDS),
    workers: fc.integer({ min: 1, max: 4 }),
    spot: fc.boolean(),
    retryPolicy: arbRetryPolicy,
  })
  .map((shape) => submitJob({ id: "job-1", ...shape }));

/** Any event, with parameters drawn freely where the sample set fixes one value. */
const arbEvent: fc.Arbitrary<JobEvent> = fc.oneof(
  fc.constantFrom(...SAMPLE_EVENTS),
  fc.integer({ min: 0, max: 255 }).map((code) => ({ type: "runExited", code }) as const),
  fc.integer({ min: 1, max: 8 }).map((workers) => ({ type: "scaleRequested", workers }) as const),
  fc.constantFrom(...WAIT_REASONS).map((reason) => ({ type: "capacityWait", reason }) as const),
  fc
    .record({
      reason: fc.constantFrom(...ATTEMPT_FAILURE_REASONS),
      exitCode: fc.integer({ min: 0, max: 255 }),
    })
    .map((failure) => ({ type: "failed", ...failure }) as const),
);

/**
 * One step of a walk: mostly an event the job accepts (so walks get deep into retries and
 * preemptions), sometimes any event at all (so refusals are exercised too).
 */
const arbStep = fc.record({
  pick: fc.nat(),
  anyEvent: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  event: arbEvent,
});

/** Runs steps from submission, keeping every job state passed, refused events included. */
const walk = (job: Job, plan: Array<{ pick: number; anyEvent: boolean; event: JobEvent }>) => {
  const steps: Array<{ before: Job; event: JobEvent; after: Job; accepted: boolean }> = [];
  let current = job;
  for (const { pick, anyEvent, event: drawn } of plan) {
    const accepted = [drawn, ...SAMPLE_EVENTS].filter(
      (candidate) => transition(current, candidate).ok,
    );
    const event =
      anyEvent || accepted.length === 0 ? drawn : (accepted[pick % accepted.length] as JobEvent);
    const result = transition(current, event);
    const after = result.ok ? result.job : current;
    steps.push({ before: current, event, after, accepted: result.ok });
    current = after;
  }
  return steps;
};

const arbWalk = fc
  .tuple(arbJob, fc.array(arbStep, { maxLength: 80 }))
  .map(([job, plan]) => walk(job, plan));

const RUNAI_NAMES = new Set(Object.keys(RUNAI_TABLE).filter((name) => !name.includes("<")));

describe("random event sequences from SUBMITTED", () => {
  it("only ever produce records this version can read", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        for (const { after } of steps) expect(JobSchema.safeParse(after).success).toBe(true);
      }),
    );
  });

  it("never change a terminal job", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        for (const { before, accepted, after } of steps) {
          if (isTerminal(before.phase)) {
            expect(accepted).toBe(false);
            expect(after).toBe(before);
          }
        }
      }),
    );
  });

  it("never count more attempts than backoffLimit + 1", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        for (const { after } of steps) {
          expect(after.attempt).toBeLessThanOrEqual(after.retryPolicy.backoffLimit + 1);
        }
      }),
    );
  });

  it("advance the version by exactly one per accepted event and not at all per refused one", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        for (const { before, after, accepted } of steps) {
          expect(after.version).toBe(before.version + (accepted ? 1 : 0));
        }
      }),
    );
  });

  it("replay from their stored events to every state passed, the current job's dialects last", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        const first = steps[0];
        if (!first) return;
        const passed = steps.filter((step) => step.accepted);
        const stored = passed.map(({ event, after }) => ({
          event,
          phase: after.phase,
          ...(after.reason ? { reason: after.reason } : {}),
        }));
        const history = jobHistory(first.before, [
          { event: { type: "submitted" }, phase: "SUBMITTED" },
          ...stored,
        ]);
        expect(history).toEqual([first.before, ...passed.map((step) => step.after)]);
        const current = steps.at(-1)?.after ?? first.before;
        expect(jobDialects(history.at(-1) as Job)).toEqual(jobDialects(current));
      }),
    );
  });

  it("project every state to a valid value in all three dialects", () => {
    fc.assert(
      fc.property(arbWalk, (steps) => {
        for (const { after } of steps) {
          const { aibro, runai, modelarts } = jobDialects(after);
          expect(AIBRO_JOB_STATUSES).toContain(aibro.status);
          expect(AIBRO_JOB_SUBSTATUSES).toContain(aibro.substatus);
          const init = /^Init:(\d+)\/(\d+)$/.exec(runai.status);
          if (init) {
            expect(Number(init[1])).toBeLessThan(Number(init[2]));
          } else {
            expect(RUNAI_NAMES).toContain(runai.status);
          }
          expect(modelarts.code).toBeGreaterThan(0);
          expect(modelarts.name).toBe(MODELARTS_CODES[modelarts.code]);
        }
      }),
    );
  });
});
