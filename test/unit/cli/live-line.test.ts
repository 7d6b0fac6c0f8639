import { describe, expect, it } from "vitest";
import { elapsed, LastLine, LiveLine, printable } from "../../../bin/cli/live-line.ts";

describe("the live line", () => {
  it("is rewritten in place, cut to the terminal's width, and cleared only when shown", () => {
    const written: string[] = [];
    const line = new LiveLine({ write: (text) => written.push(text), columns: 30 });
    line.clear();
    line.show("TRAINING  5s  epoch 1");
    line.show(`TRAINING  6s  ${"x".repeat(100)}`);
    line.clear();
    line.clear();
    expect(written).toEqual([
      "\r\x1b[KTRAINING  5s  epoch 1",
      `\r\x1b[KTRAINING  6s  ${"x".repeat(15)}`,
      "\r\x1b[K",
    ]);
  });

  it("takes a terminal of 0 columns as one of unknown width, 80 columns", () => {
    const written: string[] = [];
    const line = new LiveLine({ write: (text) => written.push(text), columns: 0 });
    line.show("x".repeat(100));
    expect(written).toEqual([`\r\x1b[K${"x".repeat(79)}`]);
  });

  it("shows a job's line without its escape sequences or control characters", () => {
    expect(printable("\x1b[31mred\x1b[0m text\x07")).toBe("red text");
    expect(printable("\x1b]0;title\x07loss 0.1")).toBe("loss 0.1");
    expect(printable(" 10%|#  \r 50%|#####  \r")).toBe("");
    expect(printable(" 10%|#  \r 50%|#####")).toBe("50%|#####");
    expect(printable("\x1b[2J\x1b[Hcleared?")).toBe("cleared?");
  });

  it("knows the last whole non-empty line of a log read in chunks", () => {
    const last = new LastLine();
    last.add("epoch 1\nepo");
    expect(last.value).toBe("epoch 1");
    last.add("ch 2\n\n");
    expect(last.value).toBe("epoch 2");
    last.add("half");
    last.break();
    last.add("way\nepoch 9\n");
    expect(last.value).toBe("epoch 9");
  });

  it("says the elapsed time as 45s, 3m05s, 1h02m", () => {
    expect(elapsed(45_900)).toBe("45s");
    expect(elapsed(185_000)).toBe("3m05s");
    expect(elapsed(3_720_000)).toBe("1h02m");
    expect(elapsed(-5)).toBe("0s");
  });
});
