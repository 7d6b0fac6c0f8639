/** Job traces for the cooling simulator: a neutral CSV, and Alibaba's GPU cluster trace. */

export interface TraceJob {
  submitS: number;
  durationS: number;
  /** Jobs of one pool can run on each other's instances. */
  pool: string;
}

const rowsOf = (csv: string): Array<Record<string, string>> => {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  const columns = (header ?? "").split(",").map((column) => column.trim());
  return lines
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const cells = line.split(",");
      return Object.fromEntries(columns.map((column, i) => [column, (cells[i] ?? "").trim()]));
    });
};

const number = (row: Record<string, string>, column: string, line: number): number => {
  const value = Number(row[column]);
  if (row[column] === "" || !Number.isFinite(value)) {
    throw new Error(`line ${line}: ${column} must be a number, got "${row[column] ?? ""}"`);
  }
  return value;
};

/** `submit_s,duration_s,pool`; other columns are ignored. */
export const parseNeutral = (csv: string): TraceJob[] =>
  rowsOf(csv).map((row, i) => {
    const line = i + 2;
    if (!row.pool) throw new Error(`line ${line}: pool is empty`);
    const durationS = number(row, "duration_s", line);
    if (durationS < 0) throw new Error(`line ${line}: duration_s must not be negative`);
    return { submitS: number(row, "submit_s", line), durationS, pool: row.pool };
  });

/** An openb row's GPU pool: its GPU count and model. */
const gpuPool = (row: Record<string, string>) => `${Number(row.num_gpu)}x${row.gpu_spec || "gpu"}`;

/**
 * Alibaba's openb pod list: a task that was scheduled and asked for GPUs is a job of the
 * pool `poolOf` names, running from scheduled to deletion time. Tasks that never ran (no
 * scheduled_time) or need no GPU are not GPU jobs, and are left out.
 */
const openbJobs = (csv: string, poolOf: (row: Record<string, string>) => string): TraceJob[] =>
  rowsOf(csv).flatMap((row) => {
    if (!row.scheduled_time || !(Number(row.num_gpu) >= 1)) return [];
    const submitS = Number(row.scheduled_time);
    const durationS = Math.max(0, Number(row.deletion_time) - submitS);
    return [{ submitS, durationS, pool: poolOf(row) }];
  });

/** The openb pod list pooled by GPU count and model. */
export const parseOpenb = (csv: string): TraceJob[] => openbJobs(csv, gpuPool);

/**
 * The openb pod list pooled also by each task's exact request (CPU, memory, GPU share,
 * QoS class): the trace names no owner, and tasks asking for exactly the same are most
 * likely one workload's, so this is the nearest it has to pools split by owner.
 */
export const parseOpenbByRequest = (csv: string): TraceJob[] =>
  openbJobs(
    csv,
    (row) => `${gpuPool(row)}:${row.cpu_milli}m-${row.memory_mib}Mi-${row.gpu_milli}-${row.qos}`,
  );

export const TRACE_FORMATS = {
  neutral: parseNeutral,
  openb: parseOpenb,
  "openb-by-request": parseOpenbByRequest,
} as const;
export type TraceFormat = keyof typeof TRACE_FORMATS;

/** The neutral format of a trace, e.g. to keep a converted one. */
export const toNeutral = (jobs: readonly TraceJob[]): string =>
  [
    "submit_s,duration_s,pool",
    ...jobs.map((job) => `${job.submitS},${job.durationS},${job.pool}`),
  ].join("\n");
