import { DynamoInstanceStore } from "../../lambdas/adapters/aws/dynamodb/instance-store.ts";
import { DynamoJobStore } from "../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { type JobSubmission, submitJob } from "../../lambdas/domain/job.ts";
import type { JobRecord } from "../../lambdas/ports.ts";
import { freshTable } from "./table.ts";

/** Both stores on a fresh table of the run's DynamoDB Local. */
export const freshStores = async () => {
  const table = await freshTable();
  return { ...table, jobs: new DynamoJobStore(table), instances: new DynamoInstanceStore(table) };
};

/** A job record as a submit creates it. */
export const newRecord = (
  submission: Partial<JobSubmission> & { id: string },
  fields: Partial<Omit<JobRecord, "job">> = {},
): JobRecord => ({
  job: submitJob({ kind: "training", ...submission }),
  owner: "ada",
  name: submission.id,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  timeline: {},
  ...fields,
});
