/**
 * Validates every ASL file, the state machines and the test fixtures, with asl-validator:
 * the local runner accepts some definitions Step Functions refuses, so `npm run check` asks
 * the validator too.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const FOLDERS = ["statemachines", "test/fixtures/asl"];

const paths = FOLDERS.flatMap((folder) =>
  readdirSync(join(root, folder))
    .filter((name) => name.endsWith(".asl.json"))
    .map((name) => join(folder, name)),
);
const validator = join(root, "node_modules/.bin/asl-validator");
const { status } = spawnSync(
  validator,
  paths.flatMap((path) => ["--json-path", path]),
  {
    cwd: root,
    stdio: "inherit",
  },
);
process.exitCode = status ?? 1;
