import type { Job } from "../job.ts";
import { AIBRO_UNREADABLE, type AibroJobStatus, aibroJobStatus } from "./aibro.ts";
import { MODELARTS_UNREADABLE, type ModelArtsStatus, modelartsStatus } from "./modelarts.ts";
import { RUNAI_UNREADABLE, type RunaiStatus, runaiStatus } from "./runai.ts";

export const DIALECTS = ["aibro", "runai", "modelarts"] as const;
export type Dialect = (typeof DIALECTS)[number];

export interface JobDialects {
  aibro: AibroJobStatus;
  runai: RunaiStatus;
  modelarts: ModelArtsStatus;
}

/** All three dialects of one job; events carry this so consumers never recompute it. */
export const jobDialects = (job: Job): JobDialects => ({
  aibro: aibroJobStatus(job),
  runai: runaiStatus(job),
  modelarts: modelartsStatus(job),
});

/** What a record this version cannot parse (corrupt, or written by a newer version) reports. */
export const UNREADABLE_DIALECTS: JobDialects = {
  aibro: AIBRO_UNREADABLE,
  runai: RUNAI_UNREADABLE,
  modelarts: MODELARTS_UNREADABLE,
};
