/** What the CLI reads from its user: a line typed at the terminal, hidden or not, or piped in. */
import { createInterface } from "node:readline";

/** The user pressed Ctrl-C at a prompt. */
export class PromptCancelled extends Error {
  override name = "PromptCancelled";
  constructor() {
    super("cancelled");
  }
}

/** Whether a person may be asked: stdin is a terminal. */
export const interactive = (): boolean => process.stdin.isTTY === true;

/** The first line of stdin (a pipe or a file), without its line ending; undefined at once EOF. */
export const readStdinLine = async (): Promise<string | undefined> => {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) return line;
  return undefined;
};

/** A line typed at the terminal after `question` (on stderr, so stdout stays data). */
export const ask = (question: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin, output: process.stderr });
    lines.on("SIGINT", () => {
      lines.close();
      reject(new PromptCancelled());
    });
    lines.question(question, (answer) => {
      lines.close();
      resolve(answer);
    });
  });

const ENTER = new Set(["\r", "\n", "\u0004"]);
const ERASE = new Set(["\u007f", "\b"]);

/**
 * A line typed at the terminal after `question`, never echoed: the terminal is in raw mode,
 * so the characters reach only this process and nothing is drawn for them.
 */
export const askHidden = (question: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const input = process.stdin;
    let typed = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (ENTER.has(char)) return finish();
        if (char === "\u0003") return finish(new PromptCancelled());
        typed = ERASE.has(char) ? typed.slice(0, -1) : typed + char;
      }
    };
    input.setEncoding("utf8");
    // Echo off before the prompt shows: a password typed the moment it appears is not drawn.
    input.setRawMode(true);
    process.stderr.write(question);
    input.on("data", onData);
    input.resume();
  });

/** A secret: asked for without echo at a terminal, else the first line piped in. */
export const readSecret = async (question: string): Promise<string | undefined> =>
  interactive() ? askHidden(question) : readStdinLine();
