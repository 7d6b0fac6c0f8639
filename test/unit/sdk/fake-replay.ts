/** The fake API's answers for a replay: job-1 replayed as job-2, which then runs to its end. */
import type { Phase } from "../../../lambdas/domain/phases.ts";
import { eventView, type Handler, jobView } from "./fake-api.ts";

/** Results of a training job: checkpoints, logs and another output. */
export const REPLAY_OUTPUTS: Record<string, string> = {
  "checkpoints/epoch-1.json": '{"w":1}',
  "logs/stdout.log": "epoch 1\n",
  "results/model.json": '{"w":3}',
};

/**
 * job-1 replayed as job-2 (checkpointing to `checkpoints`), which passes `phases` (one more
 * per poll of its events; exit code 3 when it FAILED) and leaves `outputs`.
 */
export const replaying = (phases: Phase[], outputs = REPLAY_OUTPUTS): Handler => {
  let polls = 0;
  const view = (phase: Phase) =>
    jobView({
      id: "job-2",
      phase,
      replayOf: "job-1",
      checkpointDir: "checkpoints",
      ...(phase === "FAILED" && { exitCode: 3 }),
    });
  const seen = () => phases.slice(0, Math.min(phases.length, polls));
  return (request) => {
    if (request.method === "POST" && request.path === "/v1/jobs/job-1/replay")
      return { status: 201, json: view("SUBMITTED") };
    if (request.path === "/v1/jobs/job-2/events") {
      polls++;
      const items = seen().map((phase, index) =>
        eventView({
          version: index + 1,
          at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
          type: index === 0 ? "submitted" : "event",
          phase,
        }),
      );
      return { json: { items } };
    }
    if (request.path === "/v1/jobs/job-2") return { json: view(seen().at(-1) ?? "SUBMITTED") };
    if (request.path === "/v1/jobs/job-2/outputs") return { json: { items: Object.keys(outputs) } };
    const prefix = "/v1/jobs/job-2/outputs/";
    if (request.path.startsWith(prefix)) {
      const content = outputs[decodeURIComponent(request.path.slice(prefix.length))];
      return content === undefined ? undefined : { body: content };
    }
    return undefined;
  };
};
