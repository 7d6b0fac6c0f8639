import type { MetricPoint } from "../../domain/metrics.ts";
import type { Metrics } from "../../ports.ts";

/** The most recent points, in memory: what tests read, and all a local control plane keeps. */
export class MemoryMetrics implements Metrics {
  readonly points: MetricPoint[] = [];
  private readonly limit: number;

  constructor(limit = 10_000) {
    this.limit = limit;
  }

  record(points: readonly MetricPoint[]): void {
    this.points.push(...points);
    this.points.splice(0, Math.max(0, this.points.length - this.limit));
  }
}
