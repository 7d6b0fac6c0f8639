import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { createS3Client, S3Artifacts } from "../s3/s3-artifacts.ts";
import { type Builder, builder } from "./builder.ts";

export const artifacts: Builder<ControlPlane["artifacts"]> = /* @__PURE__ */ builder(
  ["bucket"],
  ({ bucket }) => new S3Artifacts({ client: createS3Client(), bucket: bucket.BUCKET_NAME }),
);
