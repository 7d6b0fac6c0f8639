import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validExecutionName } from "../../../lambdas/adapters/aws/sfn/step-functions-rules.ts";
import {
  coolingTimerName,
  deadlineName,
  lifecycleName,
  recoveryRerun,
  retryName,
} from "../../../lambdas/use-cases/execution-names.ts";

// The ids the control plane makes: submitJob's job ids, acquireInstance's instance ids.
const jobId = fc.stringMatching(/^job-[0-9a-f]{12}$/);
const instanceId = fc.stringMatching(/^gi-[0-9a-f]{16}$/);
const counter = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const rerun = fc.constantFrom("", "recovered").map((kind) => (kind ? recoveryRerun() : ""));

describe("execution names", () => {
  it("are names Step Functions accepts, for every id, version, epoch and rerun", () => {
    fc.assert(
      fc.property(jobId, instanceId, counter, rerun, (job, instance, n, again) => {
        for (const name of [
          lifecycleName(job, again),
          deadlineName(job, again),
          retryName(job, n),
          coolingTimerName(instance, n),
        ]) {
          expect(validExecutionName(name), name).toBe(true);
        }
      }),
    );
  });

  it("differ between a job's lifecycle, its deadline, its retries and its reruns", () => {
    const names = [
      lifecycleName("job-1"),
      deadlineName("job-1"),
      retryName("job-1", 3),
      lifecycleName("job-1", recoveryRerun()),
      deadlineName("job-1", recoveryRerun()),
    ];
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("validExecutionName", () => {
  it("takes 1 to 80 characters outside the forbidden ones, and nothing else", () => {
    const allowed = fc.stringMatching(/^[A-Za-z0-9_.@()!'+=-]{1,80}$/);
    const forbidden = fc.constantFrom(
      ...' \t\n<>{}[]?*"#%\\^|~`$&,;:/\u0000\u001f\u007f\u009f\u00a0',
    );
    fc.assert(fc.property(allowed, (name) => validExecutionName(name)));
    const shorter = fc.stringMatching(/^[A-Za-z0-9_.@()!'+=-]{0,79}$/);
    fc.assert(
      fc.property(shorter, forbidden, fc.nat(), (name, char, at) => {
        const cut = at % (name.length + 1);
        return !validExecutionName(`${name.slice(0, cut)}${char}${name.slice(cut)}`);
      }),
    );
    expect(validExecutionName("")).toBe(false);
    expect(validExecutionName("j".repeat(81))).toBe(false);
  });
});
