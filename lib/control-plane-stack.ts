import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Storage } from "./constructs/storage.ts";

/** gpuctl in one account and region. Constructs join it issue by issue: storage first. */
export class ControlPlaneStack extends Stack {
  readonly storage: Storage;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, "Storage");
  }
}
