/**
 * CloudFormation's side of a custom resource: the request it sends the function, and the
 * answer the function PUTs to the request's pre-signed S3 `ResponseURL`. CloudFormation
 * waits for that answer, not for the function's return.
 */
import { z } from "zod";

/** The request of a custom resource, as CloudFormation sends it to its Lambda. */
export const CustomResourceRequest = z.object({
  RequestType: z.enum(["Create", "Update", "Delete"]),
  ResponseURL: z.url({ protocol: /^https?$/ }),
  StackId: z.string().min(1),
  RequestId: z.string().min(1),
  LogicalResourceId: z.string().min(1),
  ResourceType: z.string().min(1),
  /** Absent on Create only. */
  PhysicalResourceId: z.string().min(1).optional(),
});

export type CustomResourceRequest = z.infer<typeof CustomResourceRequest>;

export interface CustomResourceResponse {
  Status: "SUCCESS" | "FAILED";
  /** Shown in the stack's events; required with FAILED. */
  Reason?: string;
  /** Changing it on Update makes CloudFormation delete the old one: keep it stable. */
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
}

/** CloudFormation refuses a response body over 4096 bytes. */
export const MAX_RESPONSE_BYTES = 4096;

/**
 * PUTs the answer to CloudFormation. The URL is pre-signed with no content type, so none is
 * sent. Throws when S3 does not take it: the function then fails, and Lambda's retry of the
 * asynchronous invocation answers again.
 */
export const sendCustomResourceResponse = async (
  responseUrl: string,
  response: CustomResourceResponse,
): Promise<void> => {
  const body = JSON.stringify(response);
  if (Buffer.byteLength(body) > MAX_RESPONSE_BYTES)
    throw new Error(`custom resource response is ${Buffer.byteLength(body)} bytes, over 4096`);
  const answer = await fetch(responseUrl, {
    method: "PUT",
    headers: { "content-type": "" },
    body,
  });
  if (!answer.ok)
    throw new Error(
      `CloudFormation's response URL answered ${answer.status}: ${(await answer.text()).slice(0, 500)}`,
    );
};
