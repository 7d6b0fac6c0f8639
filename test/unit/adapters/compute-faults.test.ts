import { describe, expect, it } from "vitest";
import {
  ComputeFaults,
  parseComputeFaultRules,
  withComputeFaults,
} from "../../../lambdas/adapters/local/compute-faults.ts";
import {
  type Compute,
  ComputeError,
  type ComputeErrorCode,
  type LaunchRequest,
} from "../../../lambdas/ports.ts";

const agent = { endpoint: "http://127.0.0.1:1", token: "t" };
const request = (fields: Partial<LaunchRequest> = {}): LaunchRequest => ({
  instanceId: "gi-1",
  instanceType: "g5.xlarge",
  spot: false,
  jobId: "job-1",
  owner: "ada",
  envHash: "sha256:env",
  region: "local",
  agent,
  ...fields,
});

/** A compute that does what it is asked and remembers it; instance `gi-N` is of type TYPES[gi-N]. */
const recording = () => {
  const calls: string[] = [];
  const compute: Compute = {
    instanceTypes: async () => ["g5.xlarge", "g6.xlarge"],
    launch: async (launch) => {
      calls.push(`launch ${launch.instanceId} ${launch.instanceType} ${launch.spot}`);
      return { providerId: `i-${launch.instanceId}` };
    },
    start: async (id) => void calls.push(`start ${id}`),
    stop: async (id) => void calls.push(`stop ${id}`),
    restartAgent: async (id) => void calls.push(`restartAgent ${id}`),
    terminate: async (id) => void calls.push(`terminate ${id}`),
    serviceAddress: async (id, port) => {
      calls.push(`serviceAddress ${id}`);
      return { host: "127.0.0.1", port };
    },
    list: async () => {
      calls.push("list");
      return [];
    },
  };
  return { compute, calls };
};

const TYPES: Record<string, string> = { "gi-1": "g5.xlarge", "gi-2": "g6.xlarge" };

const faulty = () => {
  const { compute, calls } = recording();
  const faults = new ComputeFaults();
  const asked: string[] = [];
  const interrupted: Array<{ instanceId: string; noticeMs: number }> = [];
  const wrapped = withComputeFaults(
    compute,
    faults,
    async (id) => {
      asked.push(id);
      return TYPES[id];
    },
    (instanceId, noticeMs) => interrupted.push({ instanceId, noticeMs }),
  );
  return { wrapped, faults, calls, asked, interrupted };
};

const refusal = async (call: Promise<unknown>): Promise<ComputeErrorCode> => {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ComputeError)) throw new Error(`expected a ComputeError, got ${error}`);
  return error.code;
};

describe("compute faults", () => {
  it("pass every call through while none is injected, and ask no instance's type", async () => {
    const { wrapped, calls, asked } = faulty();
    await wrapped.launch(request());
    await wrapped.start("gi-1", agent);
    await wrapped.stop("gi-1");
    await wrapped.terminate("gi-1");
    expect(calls).toEqual([
      "launch gi-1 g5.xlarge false",
      "start gi-1",
      "stop gi-1",
      "terminate gi-1",
    ]);
    expect(asked).toEqual([]);
  });

  it("noCapacity refuses launches and starts of its type only, with EC2's codes, and launches nothing", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "noCapacity", instanceType: "g5.xlarge" });
    expect(await refusal(wrapped.launch(request()))).toBe("InsufficientInstanceCapacity");
    // A spot launch refused for capacity is SpotUnavailable, as the EC2 adapter says it.
    expect(await refusal(wrapped.launch(request({ spot: true })))).toBe("SpotUnavailable");
    expect(await refusal(wrapped.start("gi-1", agent))).toBe("InsufficientInstanceCapacity");
    await wrapped.launch(request({ instanceId: "gi-2", instanceType: "g6.xlarge" }));
    await wrapped.start("gi-2", agent);
    expect(calls).toEqual(["launch gi-2 g6.xlarge false", "start gi-2"]);
  });

  it("spotUnavailable refuses spot launches and lets on-demand ones through", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "spotUnavailable" });
    expect(await refusal(wrapped.launch(request({ spot: true })))).toBe("SpotUnavailable");
    await wrapped.launch(request());
    expect(calls).toEqual(["launch gi-1 g5.xlarge false"]);
  });

  it("startFails refuses starts of stopped instances, not launches", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "startFails" });
    expect(await refusal(wrapped.start("gi-1", agent))).toBe("InsufficientInstanceCapacity");
    await wrapped.launch(request());
    expect(calls).toEqual(["launch gi-1 g5.xlarge false"]);
  });

  it("closeFails makes stop and terminate throw an error that is no refusal, and closes nothing", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "closeFails", instanceType: "g5.xlarge" });
    for (const close of [wrapped.stop("gi-1"), wrapped.terminate("gi-1")]) {
      const error = await close.catch((thrown: Error) => thrown);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(ComputeError);
    }
    await wrapped.terminate("gi-2");
    expect(calls).toEqual(["terminate gi-2"]);
  });

  it("throttled refuses every cloud call Throttled, and does none of them", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "throttled" });
    const refused = await Promise.all([
      refusal(wrapped.launch(request())),
      refusal(wrapped.start("gi-1", agent)),
      refusal(wrapped.stop("gi-1")),
      refusal(wrapped.terminate("gi-1")),
      refusal(wrapped.serviceAddress("gi-1", 80)),
      refusal(wrapped.list()),
    ]);
    expect(new Set(refused)).toEqual(new Set(["Throttled"]));
    expect(calls).toEqual([]);
    // The types offered are configuration, not a request.
    expect(await wrapped.instanceTypes()).toEqual(["g5.xlarge", "g6.xlarge"]);
  });

  it("launchSlow holds a launch back for its delay, then makes it", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "launchSlow", delayMs: 200 });
    let launched = false;
    const launch = wrapped.launch(request()).then(() => {
      launched = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(launched).toBe(false);
    await launch;
    expect(calls).toEqual(["launch gi-1 g5.xlarge false"]);
  });

  it("spotInterruption interrupts a spot instance its delay after its launch, and no on-demand one", async () => {
    const { wrapped, faults, interrupted } = faulty();
    faults.inject({ fault: "spotInterruption", delayMs: 50, noticeMs: 1000 });
    await wrapped.launch(request({ instanceId: "gi-on-demand" }));
    await wrapped.launch(request({ instanceId: "gi-spot", spot: true }));
    expect(interrupted).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(interrupted).toEqual([{ instanceId: "gi-spot", noticeMs: 1000 }]);
    expect(() => faults.inject({ fault: "noCapacity", noticeMs: 5 })).toThrow(/noticeMs/);
  });

  it("a rule with times is spent after that many calls; clear ends every fault", async () => {
    const { wrapped, faults, calls } = faulty();
    faults.inject({ fault: "noCapacity", times: 2 });
    faults.inject({ fault: "closeFails" });
    expect(await refusal(wrapped.launch(request()))).toBe("InsufficientInstanceCapacity");
    expect(faults.rules).toEqual([{ fault: "noCapacity", times: 1 }, { fault: "closeFails" }]);
    expect(await refusal(wrapped.start("gi-1", agent))).toBe("InsufficientInstanceCapacity");
    await wrapped.launch(request());
    faults.clear();
    expect(faults.active).toBe(false);
    await wrapped.stop("gi-1");
    expect(calls).toEqual(["launch gi-1 g5.xlarge false", "stop gi-1"]);
  });

  it("refuses a rule that is not one, naming the field", () => {
    const faults = new ComputeFaults();
    expect(() => faults.inject({ fault: "gone" } as never)).toThrow(/fault/);
    expect(() => faults.inject({ fault: "launchSlow" })).toThrow(/delayMs/);
    expect(() => faults.inject({ fault: "launchSlow", delayMs: 1e12 })).toThrow(/delayMs/);
    expect(() => faults.inject({ fault: "noCapacity", times: 0 })).toThrow(/times/);
    expect(faults.active).toBe(false);
  });
});

describe("GPUCTL_FAULTS", () => {
  it("is a JSON array of rules; unset or blank is none", () => {
    expect(parseComputeFaultRules(undefined)).toEqual([]);
    expect(parseComputeFaultRules("  ")).toEqual([]);
    expect(
      parseComputeFaultRules(
        '[{"fault":"noCapacity","instanceType":"local","times":3},{"fault":"launchSlow","delayMs":500}]',
      ),
    ).toEqual([
      { fault: "noCapacity", instanceType: "local", times: 3 },
      { fault: "launchSlow", delayMs: 500 },
    ]);
  });

  it.each([
    ["noCapacity", /not JSON/],
    ['{"fault":"noCapacity"}', /JSON array of rules/],
    ['[{"fault":"noCapacty"}]', /0\.fault/],
    ['[{"fault":"noCapacity","instance":"local"}]', /0\.instance: is not a known field/],
    ['[{"fault":"throttled"},{"fault":"noCapacity","times":-1}]', /1\.times/],
  ])("refuses %s, saying what is wrong", (value, message) => {
    expect(() => parseComputeFaultRules(value)).toThrow(message);
  });
});
