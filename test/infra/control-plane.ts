/**
 * The whole control plane as `npm run synth` makes it (bin/app.ts): the config read from
 * context, the instance assets prepared, cdk-nag's AWS Solutions checks on, CDK's default
 * template rules as errors (a circular dependency, F3004, fails the synthesis), and path
 * metadata as the CDK CLI sets it. The functions' bundles are left out: they are
 * test/unit/lambda/bundles.test.ts's, made with the same options.
 */
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { readControlPlaneConfig } from "../../lib/config.ts";
import { ControlPlaneStack } from "../../lib/control-plane-stack.ts";
import { prepareInstanceAssets } from "../../scripts/instance-assets.ts";

export const synthesizeControlPlane = async (context: Record<string, unknown> = {}) => {
  const app = new App({
    context: {
      ...context,
      "aws:cdk:bundling-stacks": [],
      "aws:cdk:enable-path-metadata": true,
      "@aws-cdk/core:validateAgainstDefaultRules": true,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new ControlPlaneStack(app, "Gpuctl", {
    config: readControlPlaneConfig(app.node),
    assets: await prepareInstanceAssets(),
  });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { app, stack, template };
};
