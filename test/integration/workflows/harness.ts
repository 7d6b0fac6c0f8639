import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import type { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";

/** Path of a test state machine under test/fixtures/asl. */
export const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/asl/${name}.asl.json`, import.meta.url));

/** Stops, after each test of the calling file, every runner it tracked. */
export const stopAfterEach = () => {
  const running: LocalWorkflows[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((workflows) => workflows.stopAll()));
  });
  return (workflows: LocalWorkflows) => {
    running.push(workflows);
    return workflows;
  };
};
