import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { createS3Client, S3Artifacts } from "../../../lambdas/adapters/aws/s3/s3-artifacts.ts";
import { artifactsContract } from "./artifacts.contract.ts";

const BUCKET = "gpuctl-artifacts-test";

/**
 * S3 as far as the adapter calls it: a bucket of keys behind HeadObject, ranged GetObject
 * and ListObjectsV2 (keys in UTF-8 order, MaxKeys to a page, an opaque continuation token). The presigned
 * PUTs are signed locally and never reach it; `store` stands for them.
 */
const fakeS3 = () => {
  const client = createS3Client({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "fake-secret" },
  });
  const objects = new Map<string, Buffer>();
  const mock = mockClient(client);
  mock.on(HeadObjectCommand).callsFake(({ Bucket, Key }) => {
    if (Bucket === BUCKET && objects.has(Key)) return { ContentLength: objects.get(Key)?.length };
    throw new S3ServiceException({
      name: "NotFound",
      $fault: "client",
      $metadata: { httpStatusCode: 404 },
    });
  });
  mock.on(GetObjectCommand).callsFake(({ Bucket, Key, Range = "" }) => {
    const object = Bucket === BUCKET ? objects.get(Key) : undefined;
    if (!object)
      throw new S3ServiceException({
        name: "NoSuchKey",
        $fault: "client",
        $metadata: { httpStatusCode: 404 },
      });
    const [, first = "0", last = ""] = /^bytes=(\d+)-(\d*)$/.exec(Range) ?? [];
    const start = Number(first);
    if (start >= object.length)
      throw new S3ServiceException({
        name: "InvalidRange",
        $fault: "client",
        $metadata: { httpStatusCode: 416 },
      });
    const end = Math.min(object.length, last === "" ? object.length : Number(last) + 1);
    const bytes = new Uint8Array(object.subarray(start, end));
    return {
      Body: { transformToByteArray: async () => bytes },
      ContentRange: `bytes ${start}-${end - 1}/${object.length}`,
    };
  });
  mock.on(ListObjectsV2Command).callsFake(({ Prefix = "", ContinuationToken, MaxKeys = 1000 }) => {
    const after = ContinuationToken ? Buffer.from(ContinuationToken, "base64").toString() : "";
    const keys = [...objects.keys()]
      .filter((key) => key.startsWith(Prefix) && key > after)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, MaxKeys);
    const last = page.at(-1);
    return {
      Contents: page.map((Key) => ({ Key })),
      ...(keys.length > page.length && last
        ? { NextContinuationToken: Buffer.from(last).toString("base64") }
        : {}),
    };
  });
  return { client, objects };
};

artifactsContract("S3Artifacts", async () => {
  const { client, objects } = fakeS3();
  return {
    artifacts: new S3Artifacts({ client, bucket: BUCKET, pageSize: 2 }),
    store: async (key, bytes) => {
      objects.set(key, bytes);
    },
  };
});
