import { describe, expect, it } from "vitest";
import {
  envHashOf,
  inputsToUpload,
  installationRefusals,
  type JobSpecInput,
  parseJobSpec,
} from "../../../lambdas/domain/job-spec.ts";
import { LIMITS } from "../../../lambdas/domain/limits.ts";

const valid = { name: "train", instance: { types: ["local"] }, run: "python3 train.py" };

describe("the job spec", () => {
  it("fills the defaults of a minimal spec", () => {
    expect(parseJobSpec(valid)).toMatchObject({
      ok: true,
      spec: {
        kind: "training",
        workers: 1,
        backoffLimit: 6,
        inputs: [],
        // AIbro's replay_job(..., wait_request_s=10000).
        instance: { spot: false, waitRequestS: 10_000 },
      },
    });
  });

  it("names every bad field with its reason, at once", () => {
    const parsed = parseJobSpec({
      name: "Train Me",
      instance: { types: [] },
      run: "x",
      inputs: [{ url: "https://example.com/a", path: "../a" }],
      kind: "inference",
      extra: true,
    });
    expect(parsed.ok).toBe(false);
    const fields = parsed.ok ? [] : parsed.errors.map((error) => error.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "name",
        "instance.types",
        "inputs.0.path",
        "extra",
        "modelName",
        "serve",
      ]),
    );
  });

  it("refuses a path with a control character: a reviewer's terminal would act on it", () => {
    const parsed = parseJobSpec({
      name: "train",
      instance: { types: ["local"] },
      run: "x",
      checkpointDir: "ckpt\x1b]0;pwned\x07",
      outputs: ["out\x9b2J"],
    });
    expect(parsed.ok ? [] : parsed.errors).toEqual([
      { field: "outputs.0", message: expect.stringContaining("control characters") },
      { field: "checkpointDir", message: expect.stringContaining("control characters") },
    ]);
  });

  it("leaves local files for the CLI to upload before the API takes the spec", () => {
    const parsed = parseJobSpec({
      ...valid,
      inputs: [
        { url: "https://example.com/a", path: "a" },
        { file: "b.csv", path: "b" },
      ],
    });
    if (!parsed.ok) throw new Error("valid spec refused");
    expect(inputsToUpload(parsed.spec)).toEqual([
      {
        field: "inputs.1.file",
        message: "upload the file first (POST /v1/inputs) and send its sha256",
      },
    ]);
  });

  it("tells environments apart by image, setup and env, not by the command run in them", () => {
    const spec = (fields: object) => {
      const parsed = parseJobSpec({ ...valid, ...fields });
      if (!parsed.ok) throw new Error("valid spec refused");
      return parsed.spec;
    };
    expect(envHashOf(spec({ run: "a" }))).toBe(envHashOf(spec({ run: "b" })));
    expect(envHashOf(spec({ setup: "pip install x" }))).not.toBe(envHashOf(spec({})));
    expect(envHashOf(spec({ env: { A: "1" } }))).not.toBe(envHashOf(spec({ env: { A: "2" } })));
  });
});

describe("the job spec's limits", () => {
  const text = (length: number) => "x".repeat(length);
  const list = <T>(length: number, item: (index: number) => T) =>
    Array.from({ length }, (_, index) => item(index));
  const url = "https://data.example/d";
  /** Each field with `over` = 0 is at its limit (or, for bytes of JSON, within it); with 1, past it. */
  const FIELDS: Array<[string, (over: number) => Record<string, unknown>]> = [
    ["run", (over) => ({ run: text(LIMITS.scriptChars + over) })],
    ["setup", (over) => ({ setup: text(LIMITS.scriptChars + over) })],
    ["image", (over) => ({ image: text(LIMITS.imageChars + over) })],
    [
      "instance.types",
      (over) => ({ instance: { types: list(LIMITS.instanceTypes + over, () => "t") } }),
    ],
    [
      "instance.types.0",
      (over) => ({ instance: { types: [text(LIMITS.instanceTypeChars + over)] } }),
    ],
    [
      "instance.region",
      (over) => ({ instance: { types: ["local"], region: text(LIMITS.regionChars + over) } }),
    ],
    ["inputs", (over) => ({ inputs: list(LIMITS.inputs + over, (i) => ({ url, path: `d${i}` })) })],
    ["inputs.0.path", (over) => ({ inputs: [{ url, path: text(LIMITS.filePathChars + over) }] })],
    ["outputs", (over) => ({ outputs: list(LIMITS.outputs + over, (i) => `o${i}`) })],
    ["checkpointDir", (over) => ({ checkpointDir: text(LIMITS.filePathChars + over) })],
    [
      "env",
      (over) => ({ env: Object.fromEntries(list(LIMITS.envVars + over, (i) => [`V${i}`, ""])) }),
    ],
    ["env.V", (over) => ({ env: { V: text(LIMITS.envValueChars + over) } })],
    [
      "retryRules",
      (over) => ({
        retryRules: [
          {
            action: "retry",
            onExitCodes: {
              operator: "In",
              values: list(over ? LIMITS.retryRulesBytes : 100, () => 1),
            },
          },
        ],
      }),
    ],
  ];

  it.each(FIELDS)("%s", (field, make) => {
    const within = parseJobSpec({ ...valid, ...make(0) });
    expect(within.ok ? [] : within.errors).toEqual([]);
    const past = parseJobSpec({ ...valid, ...make(1) });
    expect(past.ok ? [] : past.errors.map((error) => error.field)).toEqual([field]);
  });
});

describe("what an installation refuses of a valid spec", () => {
  const spec = (fields: Partial<JobSpecInput>) => {
    const parsed = parseJobSpec({ ...valid, ...fields });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    return parsed.spec;
  };
  const strict = { spotAllowed: false, maxWarmS: 3600 };

  it("refuses spot where spot is not allowed, naming instance.spot", () => {
    expect(
      installationRefusals(spec({ instance: { types: ["local"], spot: true } }), strict),
    ).toEqual([
      {
        field: "instance.spot",
        message: "spot capacity is not allowed in this installation: ask for on-demand (false)",
      },
    ]);
    expect(
      installationRefusals(spec({ instance: { types: ["local"], spot: true } }), {
        ...strict,
        spotAllowed: true,
      }),
    ).toEqual([]);
  });

  it("refuses a cooling period beyond the cap, naming coolingPeriodS and the cap", () => {
    expect(installationRefusals(spec({ coolingPeriodS: 3601 }), strict)).toEqual([
      {
        field: "coolingPeriodS",
        message: "at most 3600 s in this installation (the longest an instance stays warm)",
      },
    ]);
    expect(installationRefusals(spec({ coolingPeriodS: 3600 }), strict)).toEqual([]);
  });

  it("takes what names neither: on-demand, the adaptive policy's cooling", () => {
    expect(installationRefusals(spec({}), { spotAllowed: false, maxWarmS: 0 })).toEqual([]);
  });
});
