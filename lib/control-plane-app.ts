import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { prepareInstanceAssets } from "../scripts/instance-assets.ts";
import { readControlPlaneConfig } from "./config.ts";
import { ControlPlaneStack } from "./control-plane-stack.ts";

/**
 * The CDK app as `npm run synth` and `cdk deploy` make it (bin/app.ts), and as the tests and
 * benches synthesize it: the settings read from context, the instance assets prepared, and
 * cdk-nag's AWS Solutions checks on. A refused setting throws `ConfigError`.
 */
export const controlPlaneApp = async (context: Record<string, unknown> = {}) => {
  const app = new App({ context });
  const config = readControlPlaneConfig(app.node);
  const stack = new ControlPlaneStack(app, "Gpuctl", {
    config,
    assets: await prepareInstanceAssets(),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
};
