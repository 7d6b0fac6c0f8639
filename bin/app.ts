#!/usr/bin/env node
/** The CDK app: `npx cdk synth` (and later `cdk deploy`) installs gpuctl into an account. */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ControlPlaneStack } from "../lib/control-plane-stack.ts";

const app = new App();
new ControlPlaneStack(app, "Gpuctl");
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
