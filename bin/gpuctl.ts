#!/usr/bin/env node
import { Command } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { registerDialects } from "./cli/dialects.ts";

const program = new Command("gpuctl")
  .description("Run GPU training jobs and inference deployments on your AWS account")
  .version(packageJson.version);

// A reader that closes the pipe early (`gpuctl dialects | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

registerDialects(program);

await program.parseAsync();
