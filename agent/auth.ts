/**
 * How the agent proves which instance it runs on, on each request to the control plane
 * (agent-identity.ts says how the control plane checks it).
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { SignatureV4 } from "@smithy/signature-v4";
import { AGENT_HEADERS } from "./protocol.ts";

export interface ApiRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface InstanceProof {
  /** The headers that prove this instance on `request`, to add to its own. */
  headers(request: ApiRequest): Promise<Record<string, string>>;
  /**
   * The same for a file moved to or from the control plane, whose streamed body is not
   * signed: the local artifact URLs. On AWS files move through presigned S3 URLs instead.
   */
  transferHeaders(): Record<string, string>;
}

/** Locally: the bearer instance token the instance was launched with. */
export class InstanceToken implements InstanceProof {
  readonly #token: string;
  constructor(token: string) {
    this.#token = token;
  }
  async headers(): Promise<Record<string, string>> {
    return this.transferHeaders();
  }
  transferHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.#token}` };
  }
}

/**
 * On AWS: each request signed with SigV4 for API Gateway (`execute-api`) with the instance
 * role's credentials (the metadata service, through the default chain), naming the gpuctl
 * instance it claims; the API's IAM authorizer checks the signature, the control plane that
 * the role session's EC2 instance is that gpuctl instance.
 */
export class InstanceRoleSignature implements InstanceProof {
  readonly #signer: SignatureV4;
  readonly #instanceId: string;

  constructor(options: {
    region: string;
    instanceId: string;
    credentials?: ConstructorParameters<typeof SignatureV4>[0]["credentials"];
  }) {
    this.#instanceId = options.instanceId;
    this.#signer = new SignatureV4({
      service: "execute-api",
      region: options.region,
      credentials: options.credentials ?? fromNodeProviderChain(),
      sha256: Sha256,
    });
  }

  async headers(request: ApiRequest): Promise<Record<string, string>> {
    const url = new URL(request.url);
    const headers = {
      ...request.headers,
      host: url.host,
      [AGENT_HEADERS.instance]: this.#instanceId,
    };
    const signed = await this.#signer.sign({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: request.body,
    });
    // fetch sets Host itself, and refuses it among a request's headers.
    const { host: _, ...proof } = signed.headers;
    return proof;
  }

  transferHeaders(): Record<string, string> {
    return { [AGENT_HEADERS.instance]: this.#instanceId };
  }
}

/** SHA-256, and HMAC-SHA-256 when keyed, as SignatureV4 takes them: `update`, then `digest`. */
class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: Source) {
    this.#hash =
      secret === undefined ? createHash("sha256") : createHmac("sha256", bytesOf(secret));
  }
  update(data: Source): void {
    this.#hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

type Source = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: Source): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
