import { overLimit } from "./data-limits.ts";
import { namedError } from "./outcomes.ts";

const MAX_NAME_LENGTH = 80;
const FORBIDDEN_IN_NAMES = new Set(' <>{}[]?*"#%\\^|~`$&,;:/');

/** Refuses what StartExecution refuses before any execution exists: a bad name, an input too large. */
export function checkStartRequest(name: string, input: unknown): void {
  if (!validName(name)) {
    throw namedError(
      "InvalidName",
      `execution name ${JSON.stringify(name)}: 1 to ${MAX_NAME_LENGTH} characters, no white space, brackets, wildcards, control characters or any of "#%\\^|~\`$&,;:/`,
    );
  }
  const over = overLimit("the execution's input", input);
  if (over) throw namedError("ValidationException", over);
}

function validName(name: string): boolean {
  if (name.length < 1 || name.length > MAX_NAME_LENGTH) return false;
  return [...name].every((char) => {
    const code = char.codePointAt(0) ?? 0;
    const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f);
    return !control && !/\s/.test(char) && !FORBIDDEN_IN_NAMES.has(char);
  });
}
