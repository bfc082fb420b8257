import { Counter, Gauge, Histogram, type LabelValues, Registry, collectDefaultMetrics } from 'prom-client';

/** prom-client's record of one histogram series (lib/histogram.js, 15.x). */
interface SeriesRecord {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * One histogram series with fixed label values, for the hot path (an observation per
 * predicted instance). The values are exactly those of `histogram.labels(labels).observe(v)`,
 * which validates and hashes the labels and allocates on every call; this one updates the
 * series record directly. Whenever that record is not (or no longer, after reset()) the
 * histogram's own, and for non-finite values (which throw), it goes through the public API.
 */
export function histogramSeries<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>): { observe(value: number): void } {
  const child = histogram.labels(labels);
  const h = histogram as unknown as { hashMap: Record<string, SeriesRecord>; upperBounds: number[] };
  const names = Object.keys(labels) as T[];
  let key = '';
  let record: SeriesRecord | undefined;
  let boundKeys: string[] | undefined;
  const bind = () => {
    record = undefined;
    for (const [k, r] of Object.entries(h.hashMap ?? {}))
      if (Object.keys(r.labels).length === names.length && names.every((n) => r.labels[n] === labels[n])) {
        key = k;
        record = r;
        return;
      }
  };
  return {
    observe(value: number) {
      if (record === undefined || h.hashMap[key] !== record || !Number.isFinite(value)) {
        child.observe(value);
        bind();
        return;
      }
      record.sum += value;
      record.count += 1;
      const bounds = h.upperBounds;
      for (let i = 0; i < bounds.length; i++)
        if (value <= bounds[i]!) {
          // the record's keys are the bounds as strings: convert once, not per observation
          if (boundKeys === undefined || boundKeys.length !== bounds.length) boundKeys = bounds.map(String);
          record.bucketValues[boundKeys[i]!]! += 1;
          break;
        }
    },
  };
}

export interface DriftSource {
  drift(): Array<{ model: string; version: string; feature: string; psi: number }>;
  aliases(): Array<{ model: string; version: string; alias: string; traffic_percent: number }>;
}

/**
 * Every Prometheus metric of the service, in a registry of its own (never the global one,
 * so tests can build many apps). Model-related series carry `model` and `version` labels.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly predictions: Counter<'model' | 'version' | 'alias'>;
  readonly duration: Histogram<'model' | 'version' | 'endpoint'>;
  readonly activeRequests: Gauge;
  readonly errors: Counter<'model' | 'version' | 'endpoint' | 'code'>;
  readonly confidence: Histogram<'model' | 'version'>;
  readonly batchRows: Histogram<'model' | 'version'>;
  readonly modelLoads: Counter<'model' | 'version' | 'alias'>;
  readonly modelLoadFailures: Counter<'model' | 'version' | 'alias' | 'reason'>;
  readonly feedback: Counter<'model' | 'version' | 'result'>;
  readonly liveAccuracy: Gauge<'model' | 'version'>;
  readonly rateLimited: Counter<'key'>;
  readonly authFailures: Counter<'reason'>;
  readonly apiKeyReloads: Counter<'result'>;
  readonly captureRecords: Counter<'result'>;
  readonly predictionWrites: Counter<'result'>;
  readonly metricsPublishFailures: Counter<'sink' | 'reason'>;

  constructor(source: DriftSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.predictions = new Counter({
      name: 'predictions_total',
      help: 'Instances predicted, by the model version that answered',
      labelNames: ['model', 'version', 'alias'],
      registers,
    });
    this.duration = new Histogram({
      name: 'prediction_duration_seconds',
      help: 'Inference request latency inside the service (parse, validate, batch, run, serialize)',
      labelNames: ['model', 'version', 'endpoint'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.metricsPublishFailures = new Counter({
      name: 'metrics_publish_failures_total',
      help: 'Interval metrics not delivered: failed PutMetricData calls (reason=error) or datums dropped from a full queue (reason=overflow)',
      labelNames: ['sink', 'reason'],
      registers,
    });
    this.activeRequests = new Gauge({ name: 'active_requests', help: 'Inference requests in flight', registers });
    this.errors = new Counter({
      name: 'prediction_errors_total',
      help: 'Inference requests answered with an error, by error code',
      labelNames: ['model', 'version', 'endpoint', 'code'],
      registers,
    });
    this.confidence = new Histogram({
      name: 'prediction_confidence',
      help: 'Max class probability per predicted instance (classification)',
      labelNames: ['model', 'version'],
      buckets: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
      registers,
    });
    this.batchRows = new Histogram({
      name: 'inference_batch_rows',
      help: 'Rows per ONNX Runtime run after micro-batching',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.modelLoads = new Counter({
      name: 'model_loads_total',
      help: 'Model versions loaded and self-tested successfully',
      labelNames: ['model', 'version', 'alias'],
      registers,
    });
    this.modelLoadFailures = new Counter({
      name: 'model_load_failures_total',
      help: 'Model versions refused (download, sha256, manifest, ONNX, golden self-test); the current model keeps serving',
      labelNames: ['model', 'version', 'alias', 'reason'],
      registers,
    });
    this.feedback = new Counter({
      name: 'prediction_feedback_total',
      help: 'Ground-truth feedback received, by outcome: correct, incorrect (classification), matched (regression), duplicate (already counted), unmatched (unknown, or older than the feedback window), store_error',
      labelNames: ['model', 'version', 'result'],
      registers,
    });
    this.liveAccuracy = new Gauge({
      name: 'prediction_live_accuracy',
      help: "Share of correct predictions among this replica's matched feedback since start (the fleet's is the CloudWatch metric math over FeedbackCorrect / (FeedbackCorrect + FeedbackIncorrect))",
      labelNames: ['model', 'version'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'rate_limited_total',
      help: 'Requests refused with 429, by API key id',
      labelNames: ['key'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'auth_failures_total',
      help: 'Requests refused with 401',
      labelNames: ['reason'],
      registers,
    });
    this.apiKeyReloads = new Counter({
      name: 'api_keys_reloads_total',
      help: 'Changes of the API keys file: swapped (new keys in use), invalid or unreadable (the previous keys stay in use)',
      labelNames: ['result'],
      registers,
    });
    this.captureRecords = new Counter({
      name: 'capture_records_total',
      help: 'Sampled request/response records, by outcome (written, dropped_full, dropped_error)',
      labelNames: ['result'],
      registers,
    });
    this.predictionWrites = new Counter({
      name: 'prediction_table_writes_total',
      help: 'Predictions written to the fleet prediction table, by outcome (written, dropped_full, dropped_too_large, failed); dropped ones cannot get feedback',
      labelNames: ['result'],
      registers,
    });
    new Gauge({
      name: 'feature_drift_psi',
      help: 'Population Stability Index of live values over a sliding window vs the manifest reference (feature __prediction__ = tracked output)',
      labelNames: ['model', 'version', 'feature'],
      registers,
      collect() {
        this.reset();
        for (const d of source.drift()) this.set({ model: d.model, version: d.version, feature: d.feature }, d.psi);
      },
    });
    new Gauge({
      name: 'model_traffic_percent',
      help: 'Share of traffic each loaded model version receives, by alias',
      labelNames: ['model', 'version', 'alias'],
      registers,
      collect() {
        this.reset();
        for (const a of source.aliases())
          this.set({ model: a.model, version: a.version, alias: a.alias }, a.traffic_percent);
      },
    });
  }
}
