/**
 * The whole control plane as `npm run synth` makes it (bin/app.ts): the config read from
 * context, the instance assets prepared, cdk-nag's AWS Solutions checks on, CDK's default
 * template rules as errors (a circular dependency, F3004, fails the synthesis), and path
 * metadata as the CDK CLI sets it. The functions' bundles are left out: they are
 * test/unit/lambda/bundles.test.ts's, made with the same options.
 */
import { Template } from "aws-cdk-lib/assertions";
import { controlPlaneApp } from "../../lib/control-plane-app.ts";

export const synthesizeControlPlane = async (context: Record<string, unknown> = {}) => {
  const { app, stack } = await controlPlaneApp({
    ...context,
    "aws:cdk:bundling-stacks": [],
    "aws:cdk:enable-path-metadata": true,
    "@aws-cdk/core:validateAgainstDefaultRules": true,
  });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { app, stack, template };
};
