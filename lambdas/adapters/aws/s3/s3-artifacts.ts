import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  CHECKSUM_HEADER,
  checksumOf,
  inputKey,
  resultKey,
  resultsPrefix,
} from "../../../domain/artifacts.ts";
import {
  type AnnouncedFile,
  type Artifacts,
  type ArtifactTransfer,
  InvalidCursorError,
  type Page,
  type ResultBytes,
} from "../../../ports.ts";

/**
 * An S3 client for presigning: the SDK's default checksums would add a CRC32 of nothing
 * (or `x-amz-checksum-mode`) to each URL; the only checksum an upload carries is the
 * SHA-256 the uploader announced.
 */
export const createS3Client = (config: S3ClientConfig = {}) =>
  new S3Client({
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...config,
  });

export interface S3ArtifactsOptions {
  client: S3Client;
  bucket: string;
  /** How long an upload URL is valid: it is asked for just before the PUT. */
  uploadExpiryS?: number;
  /** How long a download URL is valid: an input's is made when the command is sent. */
  downloadExpiryS?: number;
  /** Keys per page of a listing (S3 answers at most 1000). */
  pageSize?: number;
}

const DEFAULT_UPLOAD_EXPIRY_S = 15 * 60;
const DEFAULT_DOWNLOAD_EXPIRY_S = 15 * 60;

/** HeadObject answers a missing key with a bodiless 404. */
const isMissing = (error: unknown) =>
  error instanceof S3ServiceException &&
  (error.name === "NotFound" || error.$metadata.httpStatusCode === 404);

/** GetObject answers a missing key NoSuchKey (the API's role may list the bucket). */
const isNoSuchKey = (error: unknown) =>
  error instanceof S3ServiceException && error.name === "NoSuchKey";

/** A range that starts at or past the object's end (416); an empty object has no range at all. */
const isInvalidRange = (error: unknown) =>
  error instanceof S3ServiceException &&
  (error.name === "InvalidRange" || error.$metadata.httpStatusCode === 416);

/** The whole object's size from a ranged GET's `Content-Range: bytes 0-9/1234`. */
const sizeOfRange = (contentRange: string | undefined, fallback: number): number => {
  const total = contentRange?.match(/\/(\d+)$/)?.[1];
  return total === undefined ? fallback : Number(total);
};

/**
 * Artifacts in one S3 bucket. Every URL is presigned here (local signing, no request to
 * S3); the bytes go between S3 and the CLI or the agent. An upload URL signs the content
 * length and the `x-amz-checksum-sha256` header, so S3 itself refuses any other bytes.
 */
export class S3Artifacts implements Artifacts {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly uploadExpiryS: number;
  private readonly downloadExpiryS: number;
  private readonly pageSize: number | undefined;

  constructor(options: S3ArtifactsOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.uploadExpiryS = options.uploadExpiryS ?? DEFAULT_UPLOAD_EXPIRY_S;
    this.downloadExpiryS = options.downloadExpiryS ?? DEFAULT_DOWNLOAD_EXPIRY_S;
    this.pageSize = options.pageSize;
  }

  async inputUpload(
    owner: string,
    input: AnnouncedFile,
  ): Promise<{ stored: true } | { stored: false; upload: ArtifactTransfer }> {
    if (await this.inputStored(owner, input.sha256)) return { stored: true };
    return { stored: false, upload: await this.presignPut(inputKey(owner, input.sha256), input) };
  }

  /** An input key exists only once S3 took bytes whose SHA-256 is its name. */
  inputStored(owner: string, sha256: string): Promise<boolean> {
    return this.exists(inputKey(owner, sha256));
  }

  inputDownload(owner: string, sha256: string): Promise<string> {
    return this.presignGet(inputKey(owner, sha256));
  }

  resultUpload(jobId: string, file: AnnouncedFile & { path: string }): Promise<ArtifactTransfer> {
    return this.presignPut(resultKey(jobId, file.path), file);
  }

  async readResult(
    jobId: string,
    path: string,
    range: { offset: number; length: number },
  ): Promise<ResultBytes> {
    const key = resultKey(jobId, path);
    const last = range.offset + Math.max(1, range.length) - 1;
    try {
      const object = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: `bytes=${range.offset}-${last}`,
        }),
      );
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      return { bytes, size: sizeOfRange(object.ContentRange, range.offset + bytes.byteLength) };
    } catch (error) {
      if (isNoSuchKey(error)) return { bytes: new Uint8Array(), size: 0 };
      if (!isInvalidRange(error)) throw error;
    }
    return { bytes: new Uint8Array(), size: await this.sizeOf(key) };
  }

  async listOutputs(jobId: string, page: { cursor?: string } = {}): Promise<Page<string>> {
    const prefix = resultsPrefix(jobId);
    try {
      const listed = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(page.cursor ? { ContinuationToken: page.cursor } : {}),
          ...(this.pageSize ? { MaxKeys: this.pageSize } : {}),
        }),
      );
      const items = (listed.Contents ?? []).flatMap(({ Key }) =>
        Key?.startsWith(prefix) ? [Key.slice(prefix.length)] : [],
      );
      return listed.NextContinuationToken
        ? { items, cursor: listed.NextContinuationToken }
        : { items };
    } catch (error) {
      if (page.cursor && error instanceof S3ServiceException && error.name === "InvalidArgument")
        throw new InvalidCursorError("not a cursor of this listing");
      throw error;
    }
  }

  /** A presigned GET: the same for the job's owner and its agent. */
  outputDownload(jobId: string, path: string): Promise<string> {
    return this.presignGet(resultKey(jobId, path));
  }

  /** The object's size, 0 when there is none. */
  private async sizeOf(key: string): Promise<number> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  private async presignPut(key: string, file: AnnouncedFile): Promise<ArtifactTransfer> {
    const checksum = checksumOf(file.sha256);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentLength: file.size,
      ChecksumSHA256: checksum,
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: this.uploadExpiryS,
      // A signed header, not a query parameter: S3 checks the body against the header.
      unhoistableHeaders: new Set([CHECKSUM_HEADER]),
    });
    return { url, headers: { [CHECKSUM_HEADER]: checksum } };
  }

  private presignGet(key: string): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: this.downloadExpiryS,
    });
  }
}
