import {
  CustomResourceRequest,
  type CustomResourceResponse,
} from "../../adapters/aws/cloudformation/custom-resource-response.ts";
import { needs, type PortsOf } from "../../use-cases/control-plane.ts";
import { type TeardownOptions, type TeardownReport, tearDown } from "../../use-cases/tear-down.ts";

export const TEARDOWN_NEEDS = needs(["compute", "commands"]);

/** The one teardown of a stack: the same id on every answer, so no Update ever replaces it. */
export const TEARDOWN_RESOURCE_ID = "gpuctl-teardown";

/** Room left in the 4096-byte response for the reason, beside the ids CloudFormation sent. */
const MAX_REASON = 2500;

export interface TeardownAnswer {
  respond: (responseUrl: string, response: CustomResourceResponse) => Promise<void>;
  /** Milliseconds until the function is stopped: the answer must be sent before. */
  remainingMs: () => number;
  /** Where the log of this run is, for the reason of a FAILED answer. */
  logStream: string;
  /** The teardown's rounds and pause between them. */
  teardown?: TeardownOptions;
}

/** Time kept to send the answer after giving up on the work. */
const ANSWER_MARGIN_MS = 30_000;

/** What is left, named, as long as it fits. */
export const leftReason = (left: TeardownReport["left"], logStream: string) => {
  const named = left.map(
    ({ instanceId, providerId, what, error }) =>
      `${what === "queue" ? "the command queue of " : ""}${instanceId}${providerId ? ` (${providerId})` : ""}: ${error}`,
  );
  const tail = ` Nothing more is deleted until they are ended: terminate them (or delete the queues) and run cdk destroy again. Log: ${logStream}`;
  let reason = `${left.length} left: ${named.join("; ")}.`;
  if (reason.length + tail.length > MAX_REASON)
    reason = `${reason.slice(0, MAX_REASON - tail.length - 20)}... (see the log).`;
  return reason + tail;
};

const timeout = (ms: number) =>
  new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms).unref());

/**
 * The stack's teardown custom resource: on Delete, every instance and command queue of this
 * control plane is ended before CloudFormation deletes anything the teardown needs; if
 * some are left, or time runs out, the answer is FAILED and the stack's deletion stops
 * there, rather than leaving GPUs billing with nothing to end them. Create and Update do
 * nothing. Returns the answer sent, and the report of a Delete.
 */
export const teardownRequested = async (
  cp: PortsOf<typeof TEARDOWN_NEEDS>,
  event: unknown,
  answer: TeardownAnswer,
): Promise<{ response: CustomResourceResponse; report?: TeardownReport }> => {
  const request = CustomResourceRequest.parse(event);
  const base = {
    PhysicalResourceId: request.PhysicalResourceId ?? TEARDOWN_RESOURCE_ID,
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
  };
  let response: CustomResourceResponse = { Status: "SUCCESS", ...base };
  let report: TeardownReport | undefined;
  if (request.RequestType === "Delete") {
    const done = await Promise.race([
      tearDown(cp, answer.teardown).catch((error: unknown) => error as Error),
      timeout(answer.remainingMs() - ANSWER_MARGIN_MS),
    ]);
    if (done === "timeout")
      response = {
        Status: "FAILED",
        ...base,
        Reason: `Terminating this control plane's instances did not finish in time; some may be left. Run cdk destroy again. Log: ${answer.logStream}`,
      };
    else if (done instanceof Error)
      response = {
        Status: "FAILED",
        ...base,
        Reason: `Could not list or end this control plane's instances (${done.message.slice(0, 1000)}); some may be left. Run cdk destroy again. Log: ${answer.logStream}`,
      };
    else {
      report = done;
      if (done.left.length)
        response = { Status: "FAILED", ...base, Reason: leftReason(done.left, answer.logStream) };
    }
  }
  await answer.respond(request.ResponseURL, response);
  return report ? { response, report } : { response };
};
