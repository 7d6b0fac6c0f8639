import type { ApiError } from "../../sdk/api-types.ts";
import { session } from "./session.ts";

/** An answer other than 2xx, with the API's code and message. */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** The route is not served by this control plane (an older one), rather than a missing thing. */
  get noSuchRoute(): boolean {
    return this.status === 404 && this.message === "no such route";
  }
}

/**
 * One call of the API on this origin, with the session's token (or `token`) as
 * `Authorization: Bearer`. Cookies are never sent and the referrer never leaves the page.
 */
export const api = async <T>(
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal; token?: string } = {},
): Promise<T> => {
  const token = options.token ?? session.token();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method: options.method ?? "GET",
    headers,
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as Partial<ApiError> | undefined)?.error;
    // A refusal names each bad field and why: the reader sees which.
    const fields = error?.fields?.map(({ field, message }) => `${field} ${message}`).join("; ");
    throw new ApiRequestError(
      response.status,
      error?.code ?? "HTTP",
      `${error?.message ?? `${response.status} ${response.statusText}`}${fields ? `: ${fields}` : ""}`,
    );
  }
  return parsed as T;
};
