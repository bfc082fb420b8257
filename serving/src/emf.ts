import type { CloudWatchClient, MetricDatum, StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { FastifyBaseLogger } from 'fastify';
import type { Outcome } from './feedback';
import { SERVING_DIMENSIONS, SERVING_METRICS as M, VERSION_DIMENSION } from './cloudwatch-metrics';

const [TEAM, STAGE, MODEL] = SERVING_DIMENSIONS;

/** Feedback counts of one interval (see the contract in ./cloudwatch-metrics.ts). */
interface FeedbackCounts {
  matched: number;
  /** Classification only (undefined: no classification feedback). */
  correct?: number;
  incorrect?: number;
  /** Binary classification only. */
  confusion?: { tp: number; fp: number; fn: number };
  /** Regression only. */
  absoluteError?: number;
}

interface Bucket {
  feedback?: FeedbackCounts;
  requests: number;
  errors: number;
  instances: number;
  lowConfidence: number;
  confidenceSum: number;
  confidenceCount: number;
  latenciesMs: number[];
}

/** What one request adds to its model version's interval. */
export interface RequestSample {
  latencyMs: number;
  /** Status >= 500. */
  error: boolean;
  instances: number;
  lowConfidence: number;
  /** Sum of the max-probability confidence of this request's predictions (classification only). */
  confidenceSum: number;
  /** Predictions that contributed to confidenceSum (0 for regression or failed requests). */
  confidenceCount: number;
}

export interface MetricValue {
  name: string;
  unit: 'Count' | 'Milliseconds' | 'None';
  value: number;
}

/**
 * One model version's aggregated values for one interval, with the dimension values and the
 * dimension sets they are published under (the same values go to every set).
 */
export interface MetricGroup {
  timestamp: number;
  dimensions: Record<string, string>;
  dimensionSets: string[][];
  metrics: MetricValue[];
}

function emptyBucket(): Bucket {
  return { requests: 0, errors: 0, instances: 0, lowConfidence: 0, confidenceSum: 0, confidenceCount: 0, latenciesMs: [] };
}

/** Where aggregated metrics go. publish() never throws; it resolves once delivered or given up. */
export interface MetricsSink {
  readonly name: 'stdout' | 'cloudwatch';
  publish(namespace: string, groups: MetricGroup[]): Promise<void>;
  /** Gives up on a publish still in flight (shutdown deadline). */
  abort(): void;
  /** Releases connections (after the last publish). */
  destroy(): void;
}

export interface LoadedVersion {
  model: string;
  version: string;
  /** Largest per-feature PSI of the drift window, undefined until enough samples. */
  maxDriftPsi: number | undefined;
}

export interface ReporterOptions {
  namespace: string;
  intervalMs: number;
  /** Values of the Team / Stage dimensions; a dimension is left out when unset. */
  team?: string;
  stage?: string;
  /** Value of the Model dimension (SERVING_MODEL_NAME); defaults to the manifest's model name. */
  modelName?: string;
  /** Longest wait for the last publish on close(). */
  closeTimeoutMs: number;
}

/**
 * Aggregates inference requests per model version and publishes, once per interval (never per
 * request, never on the request path), the metrics of the monitoring contract
 * (./cloudwatch-metrics.ts): namespace MlPlatform/Serving, dimension sets [Team, Stage, Model]
 * (the alarms) and [Team, Stage, Model, Version] (per version: status, canary check),
 * Requests, Errors, LatencyP99, MeanConfidence, MaxFeatureDriftPsi, Predictions,
 * LowConfidencePredictions, and the feedback counts of live quality. The sink writes them as EMF lines on stdout or sends them with
 * PutMetricData.
 */
export class EmfReporter {
  private buckets = new Map<string, Bucket>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly opts: ReporterOptions,
    private readonly sink: MetricsSink,
    private readonly log: FastifyBaseLogger,
    private readonly loaded: () => LoadedVersion[],
  ) {
    this.timer = setInterval(() => void this.flush(), opts.intervalMs);
    this.timer.unref();
  }

  get sinkName(): MetricsSink['name'] {
    return this.sink.name;
  }

  private bucket(model: string, version: string): Bucket {
    const key = `${model}\u0000${version}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = emptyBucket();
      this.buckets.set(key, b);
    }
    return b;
  }

  record(model: string, version: string, s: RequestSample): void {
    const b = this.bucket(model, version);
    b.requests++;
    if (s.error) b.errors++;
    b.instances += s.instances;
    b.lowConfidence += s.lowConfidence;
    b.confidenceSum += s.confidenceSum;
    b.confidenceCount += s.confidenceCount;
    if (b.latenciesMs.length < 10000) b.latenciesMs.push(s.latencyMs);
  }

  /** Adds one matched feedback's outcome to its version's interval (the fleet-wide quality counts). */
  recordFeedback(model: string, version: string, o: Outcome): void {
    const f = (this.bucket(model, version).feedback ??= { matched: 0 });
    f.matched++;
    if (o.correct !== undefined) {
      f.correct = (f.correct ?? 0) + (o.correct ? 1 : 0);
      f.incorrect = (f.incorrect ?? 0) + (o.correct ? 0 : 1);
    }
    if (o.truePositive !== undefined) {
      const c = (f.confusion ??= { tp: 0, fp: 0, fn: 0 });
      c.tp += o.truePositive;
      c.fp += o.falsePositive ?? 0;
      c.fn += o.falseNegative ?? 0;
    }
    if (o.absoluteError !== undefined) f.absoluteError = (f.absoluteError ?? 0) + o.absoluteError;
  }

  private dimensionSets(withVersion: boolean): string[][] {
    const base: string[] = [...(this.opts.team ? [TEAM] : []), ...(this.opts.stage ? [STAGE] : []), MODEL];
    return withVersion ? [base, [...base, VERSION_DIMENSION]] : [base];
  }

  /**
   * Takes this interval's values: one group per model version that served requests or is
   * loaded (idle versions report Requests = 0, so dashboards show zero rather than a gap).
   */
  collect(now = Date.now()): MetricGroup[] {
    const buckets = this.buckets;
    this.buckets = new Map();
    const drift = new Map<string, number | undefined>();
    for (const l of this.loaded()) {
      const key = `${l.model}\u0000${l.version}`;
      drift.set(key, l.maxDriftPsi);
      if (!buckets.has(key)) buckets.set(key, emptyBucket());
    }
    const groups: MetricGroup[] = [];
    for (const [key, b] of buckets) {
      const [model, version] = key.split('\u0000') as [string, string];
      const dimensions: Record<string, string> = {};
      if (this.opts.team) dimensions[TEAM] = this.opts.team;
      if (this.opts.stage) dimensions[STAGE] = this.opts.stage;
      dimensions[MODEL] = this.opts.modelName ?? model;
      if (!dimensions[MODEL]) continue; // no model known yet: nothing to attribute to
      // Requests that failed before a version was chosen have none: no per-version series.
      if (version) dimensions[VERSION_DIMENSION] = version;
      const metrics: MetricValue[] = [
        { name: M.requests, unit: 'Count', value: b.requests },
        { name: M.errors, unit: 'Count', value: b.errors },
        { name: M.predictions, unit: 'Count', value: b.instances },
        { name: M.lowConfidencePredictions, unit: 'Count', value: b.lowConfidence },
      ];
      if (b.latenciesMs.length) {
        const sorted = b.latenciesMs.sort((x, y) => x - y);
        const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
        metrics.push({ name: M.latencyP99, unit: 'Milliseconds', value: Math.round(p99 * 1000) / 1000 });
      }
      if (b.confidenceCount > 0)
        metrics.push({ name: M.meanConfidence, unit: 'None', value: Math.round((b.confidenceSum / b.confidenceCount) * 1e6) / 1e6 });
      const d = drift.get(key);
      if (d !== undefined && Number.isFinite(d)) metrics.push({ name: M.maxFeatureDriftPsi, unit: 'None', value: d });
      const f = b.feedback;
      if (f) {
        metrics.push({ name: M.feedbackMatched, unit: 'Count', value: f.matched });
        if (f.correct !== undefined)
          metrics.push({ name: M.feedbackCorrect, unit: 'Count', value: f.correct }, { name: M.feedbackIncorrect, unit: 'Count', value: f.incorrect! });
        if (f.confusion)
          metrics.push(
            { name: M.feedbackTruePositives, unit: 'Count', value: f.confusion.tp },
            { name: M.feedbackFalsePositives, unit: 'Count', value: f.confusion.fp },
            { name: M.feedbackFalseNegatives, unit: 'Count', value: f.confusion.fn },
          );
        if (f.absoluteError !== undefined) metrics.push({ name: M.feedbackAbsoluteError, unit: 'None', value: f.absoluteError });
      }
      groups.push({ timestamp: now, dimensions, dimensionSets: this.dimensionSets(Boolean(version)), metrics });
    }
    return groups;
  }

  /** Publishes this interval's values now (the timer calls it; tests call it to avoid waiting). */
  async flush(): Promise<void> {
    if (!this.closed) await this.publish();
  }

  private async publish(): Promise<void> {
    const groups = this.collect();
    if (groups.length) await this.sink.publish(this.opts.namespace, groups);
  }

  /** Stops the timer and publishes what is left, waiting at most closeTimeoutMs. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.closeTimeoutMs);
    });
    const result = await Promise.race([this.publish().then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.sink.abort();
      this.log.warn({ sink: this.sink.name, timeout_ms: this.opts.closeTimeoutMs }, 'metrics: last publish did not finish before the shutdown deadline; dropped');
    }
    this.sink.destroy();
  }
}

/** EMF lines through the logger's stream (one line per group), so they never interleave mid-line. */
export class StdoutEmfSink implements MetricsSink {
  readonly name = 'stdout' as const;
  constructor(private readonly log: FastifyBaseLogger) {}

  async publish(namespace: string, groups: MetricGroup[]): Promise<void> {
    for (const g of groups) {
      const line: Record<string, unknown> = {
        _aws: {
          Timestamp: g.timestamp,
          CloudWatchMetrics: [
            { Namespace: namespace, Dimensions: g.dimensionSets, Metrics: g.metrics.map((m) => ({ Name: m.name, Unit: m.unit })) },
          ],
        },
        ...g.dimensions,
      };
      for (const m of g.metrics) line[m.name] = m.value;
      this.log.info(line, 'emf');
    }
  }

  abort(): void {}
  destroy(): void {}
}

/** PutMetricData accepts at most 1000 datums per call. */
export const MAX_DATUMS_PER_CALL = 1000;
/** Datums waiting behind a slow or failing API beyond this are dropped (and counted). */
export const MAX_QUEUED_DATUMS = 20 * MAX_DATUMS_PER_CALL;

export interface PublishFailures {
  inc(labels: { sink: string; reason: 'error' | 'overflow' }, value?: number): void;
}

/**
 * The same values sent with CloudWatch PutMetricData: needs no log pipeline (in EKS the
 * container logs reach CloudWatch wrapped in Kubernetes metadata, where EMF is not extracted).
 * At most one call in flight: values of later intervals queue behind it (bounded) and go in
 * the same loop, in batches of 1000 datums. Failures are logged and counted, never thrown.
 * The SDK is loaded on the first publish; region, credentials and the endpoint come from the
 * standard chain (AWS_REGION, Pod Identity / IRSA, AWS_ENDPOINT_URL_CLOUDWATCH).
 */
export class CloudWatchSink implements MetricsSink {
  readonly name = 'cloudwatch' as const;
  private client: CloudWatchClient | null;
  private queue: Array<{ namespace: string; datum: MetricDatum }> = [];
  private sending: Promise<void> | null = null;
  private aborter = new AbortController();

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly failures: PublishFailures,
    client?: CloudWatchClient,
  ) {
    this.client = client ?? null;
  }

  private sdk(): typeof import('@aws-sdk/client-cloudwatch') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@aws-sdk/client-cloudwatch');
  }

  private getClient(): CloudWatchClient {
    if (!this.client)
      this.client = new (this.sdk().CloudWatchClient)({
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
      });
    return this.client;
  }

  publish(namespace: string, groups: MetricGroup[]): Promise<void> {
    for (const g of groups) {
      const timestamp = new Date(g.timestamp);
      for (const set of g.dimensionSets) {
        const dims = set.map((Name) => ({ Name, Value: g.dimensions[Name]! }));
        for (const m of g.metrics)
          if (Number.isFinite(m.value))
            this.queue.push({ namespace, datum: { MetricName: m.name, Unit: m.unit as StandardUnit, Value: m.value, Timestamp: timestamp, Dimensions: dims } });
      }
    }
    const overflow = this.queue.length - MAX_QUEUED_DATUMS;
    if (overflow > 0) {
      this.queue.splice(0, overflow);
      this.failures.inc({ sink: this.name, reason: 'overflow' }, overflow);
      this.log.warn({ sink: this.name, dropped: overflow }, 'metrics: publish queue full; oldest values dropped');
    }
    if (!this.sending) this.sending = this.drain().finally(() => (this.sending = null));
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const namespace = this.queue[0]!.namespace;
      let n = 0;
      while (n < this.queue.length && n < MAX_DATUMS_PER_CALL && this.queue[n]!.namespace === namespace) n++;
      const batch = this.queue.splice(0, n).map((q) => q.datum);
      try {
        const { PutMetricDataCommand } = this.sdk();
        await this.getClient().send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }), {
          abortSignal: this.aborter.signal,
        });
      } catch (e) {
        const err = e as Error;
        this.failures.inc({ sink: this.name, reason: 'error' });
        this.log.warn({ sink: this.name, datums: batch.length, err: { name: err.name, message: err.message } }, 'metrics: PutMetricData failed; values dropped');
      }
    }
  }

  abort(): void {
    this.queue = [];
    this.aborter.abort();
    this.aborter = new AbortController();
  }

  destroy(): void {
    this.client?.destroy();
    this.client = null;
  }
}
