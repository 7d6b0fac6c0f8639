import { describe, expect, it } from "vitest";
import { TerminalText, terminalText } from "../../../bin/cli/terminal-text.ts";

describe("text shown on a terminal", () => {
  it.each([
    ["a window title (OSC 0, ended by BEL)", "\x1b]0;pwned\x07ok", "ok"],
    ["a clipboard write (OSC 52, ended by ESC \\)", "\x1b]52;c;cm0gLXJmIH4=\x1b\\ok", "ok"],
    ["a screen clear and a cursor move (CSI)", "\x1b[2J\x1b[1;1Hok", "ok"],
    ["colours", "\x1b[1;31mred\x1b[0m", "red"],
    ["a private mode (CSI ?)", "\x1b[?1049hok", "ok"],
    ["a character set (ESC ( B)", "\x1b(Bok", "ok"],
    ["a C1 CSI", "\x9b2Jok", "ok"],
    ["a C1 OSC ended by a C1 ST", "\x9d0;pwned\x9cok", "ok"],
    ["a device control string", "\x1bP1$r\x1b\\ok", "ok"],
    ["a bell, a NUL, a backspace and DEL", "o\x07\x00\x08k\x7f", "ok"],
  ])("drops %s whole", (_, text, shown) => {
    expect(terminalText(text)).toBe(shown);
  });

  it("keeps the control characters asked for, and shows other blank ones as a space", () => {
    expect(terminalText("a\tb\nc\rd", "\n\t\r")).toBe("a\tb\nc\rd");
    expect(terminalText("line one\nline two\ttab")).toBe("line one line two tab");
  });

  it("keeps what is no sequence: text, and characters beyond ASCII", () => {
    expect(terminalText("loss 0.1 [ok] ~ é 😀 \u00a0")).toBe("loss 0.1 [ok] ~ é 😀 \u00a0");
  });

  it("ends a control string left open at the line's end, not swallowing the rest", () => {
    expect(terminalText("\x1b]0;never ended\nnext line", "\n")).toBe("\nnext line");
  });

  it("drops a sequence cut by a chunk's end whole, in either chunk", () => {
    const filter = new TerminalText("\n");
    const chunks = ["epoch 1 \x1b[3", "2mgreen\x1b", "[0m\n\x1b]52;c;", "cm0=\x07done\n"];
    expect(chunks.map((chunk) => filter.write(chunk)).join("")).toBe("epoch 1 green\ndone\n");
  });
});
