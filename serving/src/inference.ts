import type { FastifyRequest } from 'fastify';
import type { Capture } from './capture';
import type { EmfReporter } from './emf';
import { ApiError } from './errors';
import { LocalAccuracy, type PredictionStore } from './feedback';
import { histogramSeries, type Metrics } from './metrics';
import type { AliasName, ModelEntry, ModelRegistry } from './registry';

/** Below this confidence a prediction counts as low-confidence (LowConfidencePredictions). */
export const LOW_CONFIDENCE = 0.6;

export interface RunResult {
  output: Float32Array;
  /** Where this request's rows start in output. */
  offset: number;
  lowConfidence: number;
  /** Sum of the predictions' max-probability confidence, and how many (0 for regression). */
  confidenceSum: number;
  confidenceCount: number;
}

export interface Served {
  entry: ModelEntry;
  alias: AliasName;
}

interface VersionSeries {
  predictions: { inc(n: number): void };
  confidence: { observe(v: number): void };
}

/**
 * The shared path of every inference endpoint: choose the version, run the rows through its
 * micro-batcher, then feed metrics, drift, the prediction store and capture. Route handlers only
 * translate their wire format to and from a float32 matrix.
 */
export class InferenceService {
  private readonly series = new WeakMap<ModelEntry, VersionSeries>();
  /** This replica's accuracy per version (Prometheus); the fleet's is in CloudWatch. */
  readonly localAccuracy = new LocalAccuracy();

  constructor(
    readonly registry: ModelRegistry,
    readonly metrics: Metrics,
    readonly predictions: PredictionStore,
    readonly capture: Capture | null,
    readonly emf: EmfReporter | null,
    private readonly canaryKeyHeader: string,
  ) {}

  /** The version serving `name` for this request (canary split), or a 404/503 ApiError. */
  resolve(request: FastifyRequest, name: string, version?: string): Served {
    const notReady = this.registry.notReady;
    if (notReady) throw new ApiError(503, 'model_not_ready', notReady.message, undefined, notReady.reason);
    const served = version === undefined ? this.pick(request) : this.registry.byVersion(version);
    const current = this.registry.name;
    if (name !== current) throw new ApiError(404, 'model_not_found', `model "${name}" is not served here (this service serves "${current}")`);
    if (!served) throw new ApiError(404, 'version_not_found', `version "${version}" of model "${name}" is not loaded`);
    request.served = { model: served.entry.model.name, version: served.entry.model.version };
    return served;
  }

  private pick(request: FastifyRequest): Served | null {
    const key = request.headers[this.canaryKeyHeader];
    return this.registry.pick(typeof key === 'string' && key ? key : undefined);
  }

  private seriesOf(served: Served): VersionSeries {
    let s = this.series.get(served.entry);
    if (!s) {
      const { name: model, version } = served.entry.model;
      s = {
        predictions: this.metrics.predictions.labels({ model, version, alias: served.alias }),
        confidence: histogramSeries(this.metrics.confidence, { model, version }),
      };
      this.series.set(served.entry, s);
    }
    return s;
  }

  /** Runs `rows` preprocessed rows; returns the flat output and where this request's rows start. */
  async run(
    served: Served,
    data: Float32Array,
    rows: number,
    instances: ReadonlyArray<Record<string, unknown>> | null,
  ): Promise<RunResult> {
    const { entry } = served;
    const { output, offset } = await entry.batcher.predict(data, rows);
    const model = entry.model;
    const s = this.seriesOf(served);
    s.predictions.inc(rows);
    let lowConfidence = 0;
    let confidenceSum = 0;
    const classification = model.manifest.task !== 'regression';
    for (let n = 0; n < rows; n++) {
      const row = offset + n;
      if (classification) {
        const c = model.confidence(output, row);
        s.confidence.observe(c);
        confidenceSum += c;
        if (c < LOW_CONFIDENCE) lowConfidence++;
      }
      entry.drift.observePrediction(model.tracked(output, row));
      if (instances) entry.drift.observeInstance(instances[n]!);
    }
    return { output, offset, lowConfidence, confidenceSum, confidenceCount: classification ? rows : 0 };
  }
}
