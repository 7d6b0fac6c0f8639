import { Duration, RemovalPolicy } from "aws-cdk-lib";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
  StorageClass,
} from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { INPUTS_PREFIX, JOBS_PREFIX } from "../../lambdas/domain/artifacts.ts";

export interface ArtifactsProps {
  /** How long an uploaded input is kept after its upload; a job that names it later is refused at submit. */
  inputRetention?: Duration;
  /** When a job's results move to infrequent access: read once, soon after the job, rarely after. */
  resultsInfrequentAfter?: Duration;
}

/**
 * The bucket of job inputs (`inputs/<owner>/<sha256>`) and results (`jobs/<jobId>/`): nothing in it
 * is public, every request is TLS, and the CLI and agents reach it only through the
 * presigned URLs the control plane hands out (docs/aws.md, "Artifacts on S3"). Requests are
 * logged to a bucket of their own.
 */
export class Artifacts extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: ArtifactsProps = {}) {
    super(scope, id);
    const kept = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // Users' data: a stack deletion must not take it.
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.accessLogs = new Bucket(this, "AccessLogs", {
      ...kept,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    this.bucket = new Bucket(this, "Bucket", {
      ...kept,
      // ACLs off; the log bucket keeps them, as S3's log delivery writes by ACL.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // CDK's own Bucket type misses IBucket under exactOptionalPropertyTypes; it is one.
      serverAccessLogsBucket: this.accessLogs as IBucket,
      serverAccessLogsPrefix: "artifacts/",
      lifecycleRules: [
        {
          id: "inputs",
          prefix: INPUTS_PREFIX,
          expiration: props.inputRetention ?? Duration.days(30),
        },
        {
          id: "results",
          prefix: JOBS_PREFIX,
          transitions: [
            {
              storageClass: StorageClass.INFREQUENT_ACCESS,
              transitionAfter: props.resultsInfrequentAfter ?? Duration.days(30),
            },
          ],
        },
        // A presigned PUT is one request; a multipart upload left half-way would bill for ever.
        { id: "unfinished uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
