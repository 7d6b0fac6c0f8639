import { randomUUID } from "node:crypto";
import { PREPARED_SINCE_HEADER } from "../../sdk/api-types.ts";
import { submitJob as newJob } from "../domain/job.ts";
import { installationRefusals, type JobSpec, retryPolicyOf } from "../domain/job-spec.ts";
import { jobChangePoints } from "../domain/metrics.ts";
import { jobStatusChanged } from "../domain/status-events.ts";
import { jobCreateStart } from "../domain/timeline.ts";
import type { Actor, JobRecord } from "../ports.ts";
import type { Ports } from "./control-plane.ts";
import { deadlineName, lifecycleName } from "./execution-names.ts";
import { conflict, type Failure, invalidInput } from "./outcome.ts";
import { startOnce } from "./start-workflow.ts";

/**
 * Starts the job's lifecycle and, when it has a `timeoutS`, its deadline, counted from
 * submission. Both executions are named after the job, so a replayed submit starts neither
 * twice, and the deadline's input is the same instant whenever it is computed. Recovery
 * after a restart, whose executions of those names are gone, starts them again named with
 * the `rerun` suffix.
 */
export const startJobWorkflows = async (cp: Ports<"workflows">, record: JobRecord, rerun = "") => {
  const jobId = record.job.id;
  await startOnce(cp.workflows, "job-lifecycle", lifecycleName(jobId, rerun), {
    jobId,
    review: record.spec.review && record.job.review !== "APPROVED",
  });
  const { timeoutS } = record.spec;
  if (timeoutS === undefined) return;
  await startOnce(cp.workflows, "job-deadline", deadlineName(jobId, rerun), {
    jobId,
    deadline: deadlineOf(record.createdAt, timeoutS),
  });
};

/** The whole second (RFC 3339, as a Wait's TimestampPath reads it) the job's time runs out. */
const deadlineOf = (createdAt: string, timeoutS: number): string => {
  const seconds = Math.ceil(Date.parse(createdAt) / 1000) + timeoutS;
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
};

export interface SubmitRequest {
  spec: JobSpec;
  /** The user submitting it: the job's owner is their id. */
  by: Actor;
  /** With a key, a repeated request returns the first job instead of creating another. */
  idempotency?: { key: string; requestHash: string };
  /** When the client says it began preparing the job (see jobCreateStart): its Job Create period starts then. */
  preparedSince?: string;
  /** A replay: the job it runs again, and why (see replayJob). */
  replay?: { of: string; description?: string };
}

/** Each instance type the compute does not offer, as a field error: launching it could only fail. */
const unofferedTypes = async (cp: Ports<"compute">, spec: JobSpec) => {
  const offered = await cp.compute.instanceTypes();
  return spec.instance.types.flatMap((type, index) =>
    offered.includes(type)
      ? []
      : [
          {
            field: `instance.types.${index}`,
            message: `${type} is not offered here; offered: ${offered.join(", ")}`,
          },
        ],
  );
};

/**
 * Each uploaded input its owner did not upload, as a field error: its agent could never fetch
 * it. Another user's copy of the same content does not count, or a job could name a hash to
 * receive someone else's file.
 */
export const unstoredInputs = async (cp: Ports<"artifacts">, owner: string, spec: JobSpec) =>
  (
    await Promise.all(
      spec.inputs.map(async (input, index) =>
        "sha256" in input && !(await cp.artifacts.inputStored(owner, input.sha256))
          ? [{ field: `inputs.${index}.sha256`, message: "no input with this sha256 was uploaded" }]
          : [],
      ),
    )
  ).flat();

/**
 * Records the job and starts its lifecycle workflow. The execution is named after the
 * job, so a replayed submit re-starts a workflow that failed to start, and never starts
 * a second one.
 */
export const submitJob = async (
  cp: Ports<
    "jobs" | "workflows" | "events" | "metrics" | "clock" | "compute" | "artifacts",
    "spotAllowed" | "cooling"
  >,
  request: SubmitRequest,
): Promise<{ ok: true; record: JobRecord; replayed: boolean } | Failure> => {
  const { spec, by } = request;
  const { spotAllowed, cooling } = cp.settings;
  const unusable = [
    ...installationRefusals(spec, { spotAllowed, maxWarmS: cooling.maxWarmS }),
    ...(await unofferedTypes(cp, spec)),
    ...(await unstoredInputs(cp, by.userId, spec)),
  ];
  if (unusable.length) return invalidInput("the job spec has errors", unusable);
  const at = cp.clock.now();
  const created = jobCreateStart(request.preparedSince, at);
  if (!created.ok)
    return invalidInput("bad header", [{ field: PREPARED_SINCE_HEADER, message: created.message }]);
  const job = newJob({
    id: `job-${randomUUID().slice(0, 13).replace("-", "")}`,
    kind: spec.kind,
    workers: spec.workers,
    spot: spec.instance.spot,
    retryPolicy: retryPolicyOf(spec),
  });
  const record: JobRecord = {
    job,
    owner: by.userId,
    name: spec.name,
    createdAt: at,
    updatedAt: at,
    // A job that waits at the cost gate is created when a reviewer approves it (reviewJob).
    timeline: { "Job Create": { startedAt: created.at, ...(spec.review ? {} : { endedAt: at }) } },
    spec,
    ...(spec.modelName ? { modelName: spec.modelName } : {}),
    ...(request.replay ? { replayOf: request.replay.of } : {}),
    ...(request.replay?.description ? { description: request.replay.description } : {}),
  };
  const submitted = await cp.jobs.submit({
    record,
    by,
    ...(request.idempotency ? { idempotency: request.idempotency } : {}),
  });
  if (!submitted.ok) return conflict(submitted);
  if (!submitted.replayed) {
    cp.metrics.record(
      jobChangePoints({ from: undefined, to: job.phase, timeline: record.timeline, at }),
    );
    await cp.events.publish([jobStatusChanged(job, { event: "submitted", at, by })]);
  }
  await startJobWorkflows(cp, submitted.record);
  return submitted;
};
