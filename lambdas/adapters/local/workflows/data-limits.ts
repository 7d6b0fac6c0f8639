/** Step Functions' quota on an execution's input, a task's result, and each state's input and output. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

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
