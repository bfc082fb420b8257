import type { FastifyBaseLogger } from 'fastify';

interface Bucket {
  requests: number;
  errors: number;
  instances: number;
  lowConfidence: number;
  latenciesMs: number[];
}

/**
 * CloudWatch Embedded Metric Format: one JSON log line per model version per interval (not
 * per request), which the CloudWatch agent / Container Insights turns into metrics for alarms.
 * Lines go through the same pino stream as the logs, so they never interleave mid-line.
 */
export class EmfReporter {
  private buckets = new Map<string, Bucket>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly opts: { namespace: string; intervalMs: number },
    private readonly log: FastifyBaseLogger,
    private readonly maxDrift: () => Map<string, number>,
  ) {
    this.timer = setInterval(() => this.emit(), opts.intervalMs);
    this.timer.unref();
  }

  record(model: string, version: string, latencyMs: number, error: boolean, instances: number, lowConfidence: number): void {
    const key = `${model}\u0000${version}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = { requests: 0, errors: 0, instances: 0, lowConfidence: 0, latenciesMs: [] };
      this.buckets.set(key, b);
    }
    b.requests++;
    if (error) b.errors++;
    b.instances += instances;
    b.lowConfidence += lowConfidence;
    if (b.latenciesMs.length < 10000) b.latenciesMs.push(latencyMs);
  }

  emit(): void {
    const drift = this.maxDrift();
    const buckets = this.buckets;
    this.buckets = new Map();
    for (const [key, b] of buckets) {
      const [model, version] = key.split('\u0000') as [string, string];
      const sorted = b.latenciesMs.sort((x, y) => x - y);
      const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]! : 0;
      const metrics = [
        { Name: 'Requests', Unit: 'Count' },
        { Name: 'Errors', Unit: 'Count' },
        { Name: 'Predictions', Unit: 'Count' },
        { Name: 'LowConfidencePredictions', Unit: 'Count' },
        { Name: 'LatencyP99', Unit: 'Milliseconds' },
      ];
      const line: Record<string, unknown> = {
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [{ Namespace: this.opts.namespace, Dimensions: [['Model'], ['Model', 'Version']], Metrics: metrics }],
        },
        Model: model,
        Version: version,
        Requests: b.requests,
        Errors: b.errors,
        Predictions: b.instances,
        LowConfidencePredictions: b.lowConfidence,
        LatencyP99: Math.round(p99 * 1000) / 1000,
      };
      const d = drift.get(key);
      if (d !== undefined) {
        metrics.push({ Name: 'MaxFeatureDriftPsi', Unit: 'None' });
        line.MaxFeatureDriftPsi = d;
      }
      this.log.info(line, 'emf');
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.emit();
  }
}
