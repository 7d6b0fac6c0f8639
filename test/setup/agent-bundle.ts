/**
 * Vitest globalSetup of the projects that start agents: the local compute runs the agent's
 * bundle, so it is built from the current sources before any test (a second or so).
 */
import { buildAgent } from "../../scripts/build-agent.ts";

export default async function setup(): Promise<void> {
  await buildAgent();
}
