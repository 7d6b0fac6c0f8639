import { EC2Client } from "@aws-sdk/client-ec2";
import { agentUserData } from "../../../../agent/install/user-data.ts";
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { Ec2Compute } from "../ec2/ec2-compute.ts";
import { type Builder, builder } from "./builder.ts";
import { commandQueueUrl } from "./sqs.ts";

const s3File = (bucket: string, key: string, sha256: string) => ({ bucket, key, sha256 });

export const compute: Builder<ControlPlane["compute"]> = /* @__PURE__ */ builder(
  ["compute", "commandQueues", "controlPlane", "region"],
  (environment) => {
    const variables = environment.compute;
    return new Ec2Compute({
      client: new EC2Client({}),
      launchTemplate: {
        id: variables.LAUNCH_TEMPLATE_ID,
        version: variables.LAUNCH_TEMPLATE_VERSION,
      },
      subnetIds: variables.SUBNET_IDS,
      instanceTypes: variables.INSTANCE_TYPES,
      controlPlane: environment.controlPlane.CONTROL_PLANE_NAME,
      userData: (launch) =>
        agentUserData({
          endpoint: launch.endpoint,
          instanceId: launch.instanceId,
          queueUrl: commandQueueUrl(environment, launch.instanceId),
          region: launch.region,
          agentBundle: s3File(
            variables.AGENT_BUNDLE_BUCKET,
            variables.AGENT_BUNDLE_KEY,
            variables.AGENT_BUNDLE_SHA256,
          ),
          nodeRuntime: s3File(
            variables.NODE_RUNTIME_BUCKET,
            variables.NODE_RUNTIME_KEY,
            variables.NODE_RUNTIME_SHA256,
          ),
        }),
    });
  },
);
