/**
 * What Step Functions refuses or fails on, checked the same way by the Step Functions adapter
 * (before a request leaves) and by the local runner (which has no service to refuse for it).
 */
import { InvalidExecutionName, PayloadTooLarge } from "../../../ports.ts";

/** Step Functions' quota on an execution's input, a task's result, and each state's input and output. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export const MAX_EXECUTION_NAME_LENGTH = 80;

const FORBIDDEN_IN_NAMES = new Set(' <>{}[]?*"#%\\^|~`$&,;:/');

/** The size Step Functions measures: the JSON text, UTF-8 encoded. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}

/** Why `value` is over the quota, or undefined when it is within it. */
export function overLimit(what: string, value: unknown): string | undefined {
  const bytes = payloadBytes(value);
  return bytes > MAX_PAYLOAD_BYTES
    ? `${what} is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`
    : undefined;
}

/**
 * 1 to 80 characters, none of them white space, a bracket, a wildcard, a control character
 * or one of "#%\^|~`$&,;:/ (Step Functions' rule for execution names).
 */
export function validExecutionName(name: string): boolean {
  if (name.length < 1 || name.length > MAX_EXECUTION_NAME_LENGTH) return false;
  return [...name].every((char) => {
    const code = char.codePointAt(0) ?? 0;
    const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f);
    return !control && !/\s/.test(char) && !FORBIDDEN_IN_NAMES.has(char);
  });
}

/** Refuses what StartExecution refuses before any execution exists: a bad name, an input too large. */
export function checkStartRequest(name: string, input: unknown): void {
  if (!validExecutionName(name)) {
    throw new InvalidExecutionName(
      `execution name ${JSON.stringify(name)}: 1 to ${MAX_EXECUTION_NAME_LENGTH} characters, no white space, brackets, wildcards, control characters or any of "#%\\^|~\`$&,;:/`,
    );
  }
  const over = overLimit("the execution's input", input);
  if (over) throw new PayloadTooLarge("input", over);
}

/** Refuses what SendTaskSuccess refuses: an output too large for the task's state. */
export function checkTaskOutput(output: unknown): void {
  const over = overLimit("the task's output", output);
  if (over) throw new PayloadTooLarge("output", over);
}

/** `arn:...:stateMachine:NAME` gives `arn:...:execution:NAME:EXECUTION`, as Step Functions names it. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}
