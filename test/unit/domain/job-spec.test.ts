import { describe, expect, it } from "vitest";
import { envHashOf, inputsToUpload, parseJobSpec } from "../../../lambdas/domain/job-spec.ts";

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
        instance: { spot: false },
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
        "(spec)",
        "modelName",
        "serve",
      ]),
    );
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
        message: "upload the file first (PUT /v1/inputs/{sha256}) and send its url",
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
