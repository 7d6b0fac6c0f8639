/**
 * Text from elsewhere (a job's output, what another user wrote, any answer of the server)
 * as our terminal may show it. An escape sequence in it would act on the terminal: retitle
 * it (OSC 0), write the clipboard (OSC 52), clear the screen (CSI 2J); so every sequence
 * is dropped whole, as ECMA-48 delimits it, and so is every other control character but
 * those kept.
 */
import { isControlCharacter } from "../../lambdas/domain/free-text.ts";

const ESC = "\x1b";
const BEL = "\x07";
/** String terminator, C1 form; the 7-bit one is ESC \. */
const ST = "\x9c";
/** Cancel and substitute: a terminal abandons a sequence on either. */
const ABORTS = "\x18\x1a";
/** Control sequence introducer, C1 form; the 7-bit one is ESC [. */
const CSI = "\x9b";
/** What opens a control string (OSC, DCS, SOS, PM, APC): C1 forms, and the 7-bit ones after ESC. */
const STRING_C1 = "\x9d\x90\x98\x9e\x9f";
const STRING_AFTER_ESC = "]PX^_";

type State = "text" | "escape" | "csi" | "string" | "string-escape";

const isIn = (character: string, low: number, high: number) => {
  const code = character.codePointAt(0) ?? 0;
  return code >= low && code <= high;
};

/**
 * A filter for text read in chunks: `write` answers what of a chunk may be shown. Nothing
 * is held back: a sequence's characters are dropped as they come, so one cut by a chunk's
 * end goes on being dropped in the next.
 */
export class TerminalText {
  readonly #keep: string;
  #state: State = "text";

  /** `keep`: the control characters shown as they are (say "\n\t"); other blank ones become a space. */
  constructor(keep = "") {
    this.#keep = keep;
  }

  write(text: string): string {
    let shown = "";
    for (const character of text) shown += this.#next(character);
    return shown;
  }

  #next(character: string): string {
    switch (this.#state) {
      case "text":
        return this.#text(character);
      case "escape":
        if (character === "[") return this.#to("csi");
        if (STRING_AFTER_ESC.includes(character)) return this.#to("string");
        if (character === ESC) return "";
        // Intermediate bytes (ESC ( B picks a character set) come before the final one.
        if (isIn(character, 0x20, 0x2f)) return "";
        if (isIn(character, 0x30, 0x7e)) return this.#to("text");
        return this.#text(character);
      case "csi":
        // Parameters and intermediates, then a final byte.
        if (isIn(character, 0x20, 0x3f)) return "";
        if (isIn(character, 0x40, 0x7e)) return this.#to("text");
        return this.#text(character);
      case "string":
        if (character === BEL || character === ST || ABORTS.includes(character))
          return this.#to("text");
        if (character === ESC) return this.#to("string-escape");
        // A log is read by lines: a string left open ends at one, not swallowing the rest.
        if (character === "\n") return this.#text(character);
        return "";
      case "string-escape":
        if (character === "\\") return this.#to("text");
        this.#state = "escape";
        return this.#next(character);
    }
  }

  #text(character: string): string {
    this.#state = "text";
    if (character === ESC) return this.#to("escape");
    if (character === CSI) return this.#to("csi");
    if (STRING_C1.includes(character)) return this.#to("string");
    if (!isControlCharacter(character) || this.#keep.includes(character)) return character;
    // A line break in a one-line field reads as a space; a bell or a NUL as nothing.
    return /\s/.test(character) ? " " : "";
  }

  #to(state: State): string {
    this.#state = state;
    return "";
  }
}

/** `text` as a terminal may show it: see TerminalText, with `keep` the controls kept. */
export const terminalText = (text: string, keep = ""): string => new TerminalText(keep).write(text);
