/** The agent's own log: plain text lines on stdout (agent.log locally, the journal on EC2). */
export const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

/** The message of anything thrown, on one line. */
export const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`.replace(/\s+/g, " ");
  }
  return String(error);
};

/** A URL fit for a log line or a failure cause: a presigned query string is a credential. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? "?…" : ""}`;
  } catch {
    return url.replace(/\?.*$/, "?…");
  }
};
