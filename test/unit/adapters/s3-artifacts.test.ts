import { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createS3Client, S3Artifacts } from "../../../lambdas/adapters/aws/s3/s3-artifacts.ts";
import { CHECKSUM_HEADER, checksumOf } from "../../../lambdas/domain/artifacts.ts";
import { InvalidCursorError } from "../../../lambdas/ports.ts";

const BUCKET = "gpuctl-artifacts-test";
const SHA = "a".repeat(64);
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "fake-secret" };
const client = createS3Client({ region: "eu-west-1", credentials });
const s3 = mockClient(client);
const artifacts = new S3Artifacts({
  client,
  bucket: BUCKET,
  uploadExpiryS: 300,
  downloadExpiryS: 120,
});

const missing = () =>
  new S3ServiceException({
    name: "NotFound",
    $fault: "client",
    $metadata: { httpStatusCode: 404 },
  });

const query = (url: string) => Object.fromEntries(new URL(url).searchParams);

beforeEach(() => {
  s3.reset();
  // One instant for every signature: two URLs differ only in what they sign.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});
afterEach(() => vi.useRealTimers());

describe("S3 artifacts", () => {
  it("presigns an unstored input's PUT with its key, size and checksum signed, for uploadExpiryS", async () => {
    s3.on(HeadObjectCommand).rejects(missing());
    const answer = await artifacts.inputUpload("github|ada", { sha256: SHA, size: 5 });
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: BUCKET,
      Key: `inputs/github%7Cada/${SHA}`,
    });
    if (answer.stored) throw new Error("stored");
    const url = new URL(answer.upload.url);
    expect(url.host).toBe(`${BUCKET}.s3.eu-west-1.amazonaws.com`);
    expect(url.pathname).toBe(`/inputs/github%257Cada/${SHA}`);
    expect(query(answer.upload.url)).toMatchObject({
      "X-Amz-Expires": "300",
      "X-Amz-SignedHeaders": `content-length;host;${CHECKSUM_HEADER}`,
      "x-id": "PutObject",
    });
    // The checksum is a header S3 checks the body against, not a query parameter.
    expect(url.searchParams.has(CHECKSUM_HEADER)).toBe(false);
    expect(answer.upload.headers).toEqual({ [CHECKSUM_HEADER]: checksumOf(SHA) });
    expect(checksumOf(SHA)).toBe(Buffer.from(SHA, "hex").toString("base64"));
  });

  it("signs the size and the checksum: another of either is another signature", async () => {
    const signature = async (file: { size: number; sha256: string }) =>
      query((await artifacts.resultUpload("job-1", { path: "r/a", ...file })).url)[
        "X-Amz-Signature"
      ];
    const base = await signature({ size: 5, sha256: SHA });
    expect(await signature({ size: 5, sha256: SHA })).toBe(base);
    expect(await signature({ size: 6, sha256: SHA })).not.toBe(base);
    expect(await signature({ size: 5, sha256: "b".repeat(64) })).not.toBe(base);
  });

  it("answers 'stored' for an input S3 holds, and presigns nothing", async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: 5 });
    expect(await artifacts.inputUpload("ada", { sha256: SHA, size: 5 })).toEqual({ stored: true });
  });

  it("lets any other HeadObject error through", async () => {
    const denied = new S3ServiceException({
      name: "Forbidden",
      $fault: "client",
      $metadata: { httpStatusCode: 403 },
    });
    s3.on(HeadObjectCommand).rejects(denied);
    await expect(artifacts.inputStored("ada", SHA)).rejects.toBe(denied);
  });

  it("presigns a result's PUT under the job's prefix, each path segment escaped", async () => {
    const upload = await artifacts.resultUpload("job-1", {
      path: "results/a b.txt",
      size: 1,
      sha256: SHA,
    });
    expect(new URL(upload.url).pathname).toBe("/jobs/job-1/results/a%20b.txt");
    expect(query(upload.url)["X-Amz-Expires"]).toBe("300");
  });

  it("presigns downloads with host alone signed, for downloadExpiryS", async () => {
    for (const url of [
      await artifacts.inputDownload("ada", SHA),
      await artifacts.outputDownload("job-1", "r/m.json"),
    ]) {
      expect(query(url)).toMatchObject({
        "X-Amz-Expires": "120",
        "X-Amz-SignedHeaders": "host",
        "x-id": "GetObject",
      });
      expect(url).not.toContain("x-amz-checksum");
    }
    expect(new URL(await artifacts.inputDownload("ada", SHA)).pathname).toBe(`/inputs/ada/${SHA}`);
    expect(new URL(await artifacts.outputDownload("job-1", "r/m.json")).pathname).toBe(
      "/jobs/job-1/r/m.json",
    );
  });

  it("lists a job's outputs a page at a time, under its prefix alone", async () => {
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [{ Key: "jobs/job-1/a" }, { Key: "jobs/job-1/b/c" }],
      NextContinuationToken: "next",
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: "next" }).resolves({
      Contents: [{ Key: "jobs/job-1/d" }],
    });
    expect(await artifacts.listOutputs("job-1")).toEqual({ items: ["a", "b/c"], cursor: "next" });
    expect(await artifacts.listOutputs("job-1", { cursor: "next" })).toEqual({ items: ["d"] });
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: "jobs/job-1/",
    });
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { ContinuationToken: "next" });
  });

  it("takes S3's refusal of a continuation token as a bad cursor", async () => {
    s3.on(ListObjectsV2Command).rejects(
      new S3ServiceException({
        name: "InvalidArgument",
        $fault: "client",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(artifacts.listOutputs("job-1", { cursor: "forged" })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });
});

describe("S3 artifacts reading a result", () => {
  const range = { offset: 10, length: 5 };
  const s3Error = (name: string, httpStatusCode: number) =>
    new S3ServiceException({ name, $fault: "client", $metadata: { httpStatusCode } });

  it("GETs just the asked range of the job's key, and the size from Content-Range", async () => {
    const bytes = new TextEncoder().encode("hello");
    s3.on(GetObjectCommand).resolves({
      Body: { transformToByteArray: async () => bytes } as never,
      ContentRange: "bytes 10-14/1234",
    });
    expect(await artifacts.readResult("job-1", "logs/stdout.log", range)).toEqual({
      bytes,
      size: 1234,
    });
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: BUCKET,
      Key: "jobs/job-1/logs/stdout.log",
      Range: "bytes=10-14",
    });
  });

  it("answers a missing key (NoSuchKey) with nothing, size 0", async () => {
    s3.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
    expect(await artifacts.readResult("job-1", "logs/stderr.log", range)).toEqual({
      bytes: new Uint8Array(),
      size: 0,
    });
  });

  it("answers a range past the end (416) with nothing and the size HeadObject gives", async () => {
    s3.on(GetObjectCommand).rejects(s3Error("InvalidRange", 416));
    s3.on(HeadObjectCommand).resolves({ ContentLength: 7 });
    expect(await artifacts.readResult("job-1", "logs/stdout.log", range)).toEqual({
      bytes: new Uint8Array(),
      size: 7,
    });
  });

  it("throws what else S3 answers", async () => {
    s3.on(GetObjectCommand).rejects(s3Error("AccessDenied", 403));
    await expect(artifacts.readResult("job-1", "logs/stdout.log", range)).rejects.toThrow();
  });
});

describe("S3 artifacts under throttling", () => {
  it("retries a SlowDown with the SDK's own backoff, then answers", async () => {
    vi.useRealTimers();
    const answers = [
      {
        statusCode: 503,
        headers: { "content-type": "application/xml" },
        body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
      },
      {
        statusCode: 200,
        headers: { "content-type": "application/xml" },
        body: "<ListBucketResult><Contents><Key>jobs/job-1/a</Key></Contents><IsTruncated>false</IsTruncated></ListBucketResult>",
      },
    ];
    let calls = 0;
    const throttled = createS3Client({
      region: "eu-west-1",
      credentials,
      maxAttempts: 3,
      requestHandler: {
        handle: async () => {
          const answer = answers[Math.min(calls++, answers.length - 1)] ?? answers[0];
          return {
            response: { ...answer, body: Readable.from([Buffer.from(answer?.body ?? "")]) },
          };
        },
      } as never,
    });
    const listed = await new S3Artifacts({ client: throttled, bucket: BUCKET }).listOutputs(
      "job-1",
    );
    expect(listed).toEqual({ items: ["a"] });
    expect(calls).toBe(2);
  });
});
