/** Step Functions' optimized Lambda integration, as the runner speaks it to local handlers. */

const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";

export function isLambdaInvoke(resource: string | undefined): boolean {
  return resource?.startsWith(LAMBDA_INVOKE) ?? false;
}

/** The optimized Lambda integration hands the function only its Payload... */
export function lambdaEvent(parameters: unknown): unknown {
  return isObject(parameters) ? parameters.Payload : undefined;
}

/** ...and, without a callback, returns what the Invoke API answers. */
export function lambdaResponse(payload: unknown): unknown {
  return { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
