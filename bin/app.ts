#!/usr/bin/env node
/**
 * The CDK app: `npm run synth` checks it, `npx cdk deploy` installs gpuctl into an account
 * (docs/deploy.md). Settings come from CDK context (`-c key=value` or cdk.json, lib/config.ts).
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ConfigError, readControlPlaneConfig } from "../lib/config.ts";
import { ControlPlaneStack } from "../lib/control-plane-stack.ts";
import { prepareInstanceAssets } from "../scripts/instance-assets.ts";

const app = new App();
const config = (() => {
  try {
    return readControlPlaneConfig(app.node);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`gpuctl: ${error.message}`);
    process.exit(1);
  }
})();
new ControlPlaneStack(app, "Gpuctl", { config, assets: await prepareInstanceAssets() });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
