/**
 * Text one user writes and others read (a replay's description, a path shown on a job). A
 * control character in it reaches the reader's terminal: an escape sequence there retitles
 * the window (OSC 0), writes the clipboard (OSC 52) or clears the screen (CSI 2J), so such
 * text is refused when it is written.
 */

/** C0 controls (ESC, BEL, NUL...), DEL and C1 controls (\x80-\x9f, a one-character CSI among them). */
export const isControlCharacter = (character: string): boolean => {
  const code = character.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code < 0xa0);
};

/** Whether `text` has no control character but those `allowed` (say a tab and a newline). */
export const withoutControlCharacters =
  (allowed = "") =>
  (text: string): boolean =>
    ![...text].some((character) => isControlCharacter(character) && !allowed.includes(character));

export const CONTROL_CHARACTERS_REFUSED =
  "must not contain control characters (escape sequences, bell, NUL)";
