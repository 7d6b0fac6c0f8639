#!/usr/bin/env node
/**
 * The CDK app: `npm run synth` checks it, `npx cdk deploy` installs gpuctl into an account
 * (docs/deploy.md). Settings come from CDK context (`-c key=value` or cdk.json, lib/config.ts).
 */
import { ConfigError } from "../lib/config.ts";
import { controlPlaneApp } from "../lib/control-plane-app.ts";

await controlPlaneApp().catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`gpuctl: ${error.message}`);
  process.exit(1);
});
