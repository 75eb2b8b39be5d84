import type { Registry } from 'prom-client';

/** Upper bounds of the request-duration buckets, in seconds. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

interface Cell {
  labels: { method: string; route: string; status: string };
  count: number;
  sum: number;
  /** Requests at or below each bound of DURATION_BUCKETS (not cumulative; summed when scraped). */
  buckets: number[];
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * `http_request_duration_seconds` (histogram) and `http_requests_total` (counter) by method, route pattern
 * and status, as prom-client's Histogram and Counter expose them, kept in plain numbers: recording a request
 * is three Map lookups and a few additions, with no label object, label validation or label-hash string
 * per request (prom-client's observe and inc build all three each call, also through pre-bound `labels()`
 * children). The label sets are few (routes × statuses), so a cell is made once per set.
 */
export class RequestMetrics {
  private readonly cells = new Map<string, Map<string, Map<number, Cell>>>();
  /** The same cells in the order their label sets first appeared (prom-client's order of series). */
  private readonly series: Cell[] = [];

  /** Records one answered request; `seconds` is its duration. */
  observe(method: string, route: string, status: number, seconds: number): void {
    let byRoute = this.cells.get(method);
    if (!byRoute) this.cells.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (!cell) {
      cell = { labels: { method, route, status: String(status) }, count: 0, sum: 0, buckets: DURATION_BUCKETS.map(() => 0) };
      byStatus.set(status, cell);
      this.series.push(cell);
    }
    cell.count += 1;
    cell.sum += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        cell.buckets[i]! += 1;
        break;
      }
    }
  }

  /** Exposes both metrics through `registry` (GET /metrics), in prom-client's own text format. */
  register(registry: Registry): void {
    const all = () => this.series;
    const reset = () => {
      this.cells.clear();
      this.series.length = 0;
    };
    const histogram = {
      name: 'http_request_duration_seconds', help: 'HTTP request duration', type: 'histogram', aggregator: 'sum', reset,
      get: async () => ({
        name: histogram.name, help: histogram.help, type: histogram.type, aggregator: histogram.aggregator,
        values: all().flatMap((cell): MetricValue[] => {
          let cumulative = 0;
          const buckets = DURATION_BUCKETS.map((le, i): MetricValue => {
            cumulative += cell.buckets[i]!;
            return { labels: { le, ...cell.labels }, value: cumulative, metricName: `${histogram.name}_bucket` };
          });
          return [
            ...buckets,
            { labels: { le: '+Inf', ...cell.labels }, value: cell.count, metricName: `${histogram.name}_bucket` },
            { labels: cell.labels, value: cell.sum, metricName: `${histogram.name}_sum` },
            { labels: cell.labels, value: cell.count, metricName: `${histogram.name}_count` },
          ];
        }),
      }),
    };
    const counter = {
      name: 'http_requests_total', help: 'HTTP requests', type: 'counter', aggregator: 'sum', reset,
      get: async () => ({
        name: counter.name, help: counter.help, type: counter.type, aggregator: counter.aggregator,
        values: all().map((cell): MetricValue => ({ labels: cell.labels, value: cell.count })),
      }),
    };
    // prom-client's registry takes any object with a name and get(); its types want its own classes.
    registry.registerMetric(histogram as never);
    registry.registerMetric(counter as never);
  }
}
