import { Readable } from "node:stream";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { HttpResponse } from "@smithy/core/transport";

/** Fake credentials and a region: no test may reach AWS or read the environment's credentials. */
export const OFFLINE = {
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDOFFLINE", secretAccessKey: "offline" },
} as const;

/**
 * A client configuration whose HTTP handler answers each request with the next of `answers`
 * (JSON protocols: a body with `__type` is an error), so the SDK's own retry middleware runs
 * as it does against AWS, with a retry strategy that records each backoff it computes
 * instead of waiting it out.
 */
export const answering = (answers: Array<{ status: number; body: unknown }>) => {
  const targets: string[] = [];
  const backoffs: number[] = [];
  const requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      targets.push(request.headers["x-amz-target"] ?? "");
      const answer = answers[targets.length - 1];
      if (!answer) throw new Error(`no answer for request ${targets.length}`);
      return {
        response: new HttpResponse({
          statusCode: answer.status,
          headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "r-1" },
          body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
        }),
      };
    },
  };
  const retryStrategy = new ConfiguredRetryStrategy(3, (retry) => {
    backoffs.push(retry);
    return 1;
  });
  return { config: { ...OFFLINE, requestHandler, retryStrategy }, targets, backoffs };
};

export const THROTTLED = {
  status: 400,
  body: { __type: "ThrottlingException", message: "Rate exceeded" },
};
