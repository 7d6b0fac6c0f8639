import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Artifacts } from "./constructs/artifacts.ts";
import { Storage } from "./constructs/storage.ts";

/** gpuctl in one account and region. Constructs join it issue by issue: storage and artifacts first. */
export class ControlPlaneStack extends Stack {
  readonly storage: Storage;
  readonly artifacts: Artifacts;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, "Storage");
    this.artifacts = new Artifacts(this, "Artifacts");
  }
}
