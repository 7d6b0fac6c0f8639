/** A status line kept in place on a terminal, and the last line of a log for it. */
import { terminalText } from "./terminal-text.ts";

/** Where a live line goes: a terminal (`process.stdout` when it is a TTY). */
export interface Terminal {
  write(text: string): unknown;
  columns?: number;
}

const CLEAR_LINE = "\r\x1b[K";

/** One line rewritten in place; whatever is printed meanwhile first clears it. */
export class LiveLine {
  readonly #terminal: Terminal;
  #shown = false;

  constructor(terminal: Terminal) {
    this.#terminal = terminal;
  }

  show(text: string): void {
    // A terminal that cannot tell its width says 0 columns (a serial console, some CI).
    const columns = this.#terminal.columns || 80;
    // One column short of the width: a line that fills it wraps on some terminals.
    const width = Math.max(20, columns - 1);
    this.#terminal.write(`${CLEAR_LINE}${text.slice(0, width)}`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) this.#terminal.write(CLEAR_LINE);
    this.#shown = false;
  }
}

/**
 * A line of a job's output as our terminal may show it: what a progress bar drew last
 * (after its last `\r`), without the job's escape sequences and control characters, which
 * would move our cursor or change our terminal.
 */
export const printable = (line: string): string =>
  terminalText(line.split("\r").at(-1) ?? "").trim();

/** The last non-empty line of a log read a chunk at a time. */
export class LastLine {
  #partial = "";
  #last = "";

  get value(): string {
    return this.#last;
  }

  add(text: string): void {
    const lines = `${this.#partial}${text}`.split("\n");
    this.#partial = lines.pop() ?? "";
    const last = lines.map(printable).findLast((line) => line !== "");
    if (last !== undefined) this.#last = last;
  }

  /** The next text does not continue this one (the reader skipped ahead). */
  break(): void {
    this.#partial = "";
  }
}

/** 45s, 3m05s, 1h02m. */
export const elapsed = (ms: number): string => {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`;
};
