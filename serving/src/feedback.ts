/** What the service remembers about one request's predictions until ground truth arrives. */
export interface Remembered {
  model: string;
  version: string;
  /** Classification: the predicted label per instance. */
  labels?: string[];
  /** Regression: the predicted value per instance. */
  values?: number[];
}

/** The prediction id of instance `n` of request `requestId`. */
export const predictionId = (requestId: string, n: number) => `${requestId}.${n}`;

/**
 * Bounded memory of recent requests' predictions (oldest evicted first), so feedback can be
 * matched to the version and answer that produced it. One entry per request, not per
 * instance, to keep the hot path cheap. Feedback for an evicted id, or one served by another
 * replica, counts as unmatched; each prediction is counted once.
 */
export class PredictionMemory {
  private readonly map = new Map<string, Remembered & { seen?: Set<number> }>();
  private readonly tallies = new Map<string, { correct: number; total: number }>();
  constructor(private readonly capacity: number) {}

  remember(requestId: string, r: Remembered): void {
    if (this.capacity === 0) return;
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(requestId, r);
  }

  /** The remembered answer for a prediction id, unless unknown or already given feedback. */
  get(id: string): { model: string; version: string; label?: string; value?: number; index: number; request: string } | undefined {
    const dot = id.lastIndexOf('.');
    if (dot < 0) return undefined;
    const request = id.slice(0, dot);
    const index = Number(id.slice(dot + 1));
    const r = this.map.get(request);
    if (!r || !Number.isInteger(index) || r.seen?.has(index)) return undefined;
    const label = r.labels?.[index];
    const value = r.values?.[index];
    if (label === undefined && value === undefined) return undefined;
    return { model: r.model, version: r.version, label, value, index, request };
  }

  /** Feedback is counted once per prediction. */
  forget(request: string, index: number): void {
    const r = this.map.get(request);
    if (r) (r.seen ??= new Set()).add(index);
  }

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
