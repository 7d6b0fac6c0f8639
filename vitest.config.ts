import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      // Generous deadlines: the suites must pass on a machine whose cores are busy elsewhere.
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          setupFiles: ["test/setup/aws-sdk-mock.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/setup/agent-bundle.ts", "test/integration/dynamodb-local.ts"],
          setupFiles: ["test/setup/aws-sdk-mock.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      // A CDK synthesis takes seconds, and more with every function the stack bundles.
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/setup/agent-bundle.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
