import { Metrics as Powertools } from "@aws-lambda-powertools/metrics";
import {
  METRICS,
  METRICS_NAMESPACE,
  type MetricPoint,
  SERVICE_DIMENSION,
} from "../../../domain/metrics.ts";
import type { Metrics } from "../../../ports.ts";

/**
 * Each point as one embedded-metric-format line in the function's log, written at once:
 * CloudWatch turns the line into the metric, with the point's own dimensions and
 * `service`, and a point recorded before an invocation fails is not lost with it.
 */
export class EmfMetrics implements Metrics {
  private readonly powertools = new Powertools({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_DIMENSION.value,
  });

  record(points: readonly MetricPoint[]): void {
    for (const point of points) {
      const single = this.powertools.singleMetric();
      for (const [name, value] of Object.entries(point.dimensions))
        single.addDimension(name, String(value));
      single.addMetric(point.name, METRICS[point.name].unit, point.value);
    }
  }
}
