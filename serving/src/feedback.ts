/**
 * Feedback: ground truth posted for an earlier prediction, matched to the version and answer
 * that produced it. This module is also the contract of the DynamoDB prediction table shared
 * with the CDK app (constructs/serving/team-serving.ts creates the table), so it imports
 * nothing.
 */

/**
 * The team's prediction table: one item per inference request (`request_id`), written by the
 * replica that answered it and claimed by whichever replica receives the feedback. Items expire
 * through DynamoDB's TTL on `expires_at` (epoch seconds); the claim also checks it, because TTL
 * deletion lags by up to a day or two.
 */
export const PREDICTION_TABLE = {
  partitionKey: 'request_id',
  ttlAttribute: 'expires_at',
  /** The answers of the request, one per instance: label strings or regression values. */
  answers: 'answers',
  /** Instance indexes that already got feedback (a number set): each counts once. */
  seen: 'seen',
} as const;

/** How long a prediction can get feedback, unless configured: 24 hours. */
export const DEFAULT_FEEDBACK_WINDOW_S = 24 * 3600;

/** What the service remembers about one request's predictions until ground truth arrives. */
export interface Remembered {
  model: string;
  version: string;
  /** Classification: the predicted label per instance. */
  labels?: string[];
  /** Regression: the predicted value per instance. */
  values?: number[];
  /** Binary classification: the positive label (precision, recall and F1 are of this label). */
  positive?: string;
}

/** The prediction id of instance `n` of request `requestId`. */
export const predictionId = (requestId: string, n: number) => `${requestId}.${n}`;

export function parsePredictionId(id: string): { request: string; index: number } | undefined {
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const index = Number(id.slice(dot + 1));
  if (!Number.isInteger(index) || index < 0 || id.slice(dot + 1) !== String(index)) return undefined;
  return { request: id.slice(0, dot), index };
}

/** The answer a prediction id stood for, claimed for this feedback (no other feedback gets it). */
export interface Matched {
  result: 'matched';
  model: string;
  version: string;
  label?: string;
  value?: number;
  positive?: string;
}

/**
 * What claiming a prediction id found: its answer (now counted), `duplicate` (it already got
 * feedback), or `unmatched` (never made, out of range, or older than the feedback window).
 */
export type Claim = Matched | { result: 'duplicate' } | { result: 'unmatched' };

/** Where predictions wait for their feedback. */
export interface PredictionStore {
  readonly kind: 'memory' | 'dynamodb';
  /** Records a request's answers; never throws and never waits (the request path calls it). */
  remember(requestId: string, r: Remembered): void;
  /** Finds and claims a prediction id; rejects only when the store cannot be reached. */
  claim(id: string): Promise<Claim>;
  /** Writes what is still buffered (a table store waits at most its closeTimeoutMs). */
  close(): Promise<void>;
}

/** The answer of instance `index` of a remembered request, if it has one. */
export function answerOf(r: Remembered, index: number): Matched | undefined {
  const label = r.labels?.[index];
  const value = r.values?.[index];
  if (label === undefined && value === undefined) return undefined;
  return {
    result: 'matched',
    model: r.model,
    version: r.version,
    ...(label !== undefined ? { label } : { value }),
    ...(r.positive !== undefined ? { positive: r.positive } : {}),
  };
}

/**
 * This replica's memory of recent requests (oldest evicted first, and none older than the
 * window): the store of a single replica, or of a fleet without a prediction table, where
 * feedback that reaches another replica than the one that predicted is unmatched.
 */
export class MemoryPredictionStore implements PredictionStore {
  readonly kind = 'memory' as const;
  private readonly map = new Map<string, { r: Remembered; expires: number; seen?: Set<number> }>();
  /**
   * Request ids in arrival order, as a ring: the slot to overwrite next holds the oldest. (A
   * Map's first key is O(n) to reach after many deletions from its front: V8 iterates over the
   * deleted entries' holes, which made eviction the costliest step of a request.)
   */
  private readonly ring: Array<string | undefined>;
  private next = 0;

  constructor(
    private readonly capacity: number,
    private readonly windowS: number = DEFAULT_FEEDBACK_WINDOW_S,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new Array(capacity);
  }

  remember(requestId: string, r: Remembered): void {
    if (this.capacity === 0) return;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.map.delete(oldest);
    this.ring[this.next] = requestId;
    this.next = (this.next + 1) % this.capacity;
    this.map.set(requestId, { r, expires: this.now() + this.windowS * 1000 });
  }

  async claim(id: string): Promise<Claim> {
    const parsed = parsePredictionId(id);
    const m = parsed && this.map.get(parsed.request);
    if (!parsed || !m || m.expires <= this.now()) return { result: 'unmatched' };
    if (m.seen?.has(parsed.index)) return { result: 'duplicate' };
    const answer = answerOf(m.r, parsed.index);
    if (!answer) return { result: 'unmatched' };
    (m.seen ??= new Set()).add(parsed.index);
    return answer;
  }

  async close(): Promise<void> {}
}

/**
 * What one matched feedback adds to the fleet-wide quality counts: summed over replicas and
 * intervals by CloudWatch, they give accuracy, precision, recall, F1 and MAE (see
 * cloudwatch-metrics.ts), which a per-pod ratio could not.
 */
export interface Outcome {
  /** Classification: whether the predicted label was the actual one. */
  correct?: boolean;
  /** Binary classification: the confusion counts of the positive label (each 0 or 1). */
  truePositive?: number;
  falsePositive?: number;
  falseNegative?: number;
  /** Regression: |actual − predicted|. */
  absoluteError?: number;
}

/** Scores one matched prediction against its actual outcome. */
export function score(m: Matched, actual: string | number): Outcome {
  if (m.value !== undefined) return { absoluteError: Math.abs((actual as number) - m.value) };
  const correct = actual === m.label;
  if (m.positive === undefined) return { correct };
  const predicted = m.label === m.positive;
  const truth = actual === m.positive;
  return {
    correct,
    truePositive: predicted && truth ? 1 : 0,
    falsePositive: predicted && !truth ? 1 : 0,
    falseNegative: !predicted && truth ? 1 : 0,
  };
}

/** This replica's running accuracy per version (the `prediction_live_accuracy` gauge). */
export class LocalAccuracy {
  private readonly tallies = new Map<string, { correct: number; total: number }>();

  /** Records a matched outcome; returns the running accuracy for that version. */
  tally(version: string, correct: boolean): number {
    let t = this.tallies.get(version);
    if (!t) {
      t = { correct: 0, total: 0 };
      this.tallies.set(version, t);
    }
    t.total++;
    if (correct) t.correct++;
    return t.correct / t.total;
  }
}
