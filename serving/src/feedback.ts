/** What the service remembers about a prediction until its ground truth arrives. */
export interface Remembered {
  model: string;
  version: string;
  label?: string;
  value?: number;
}

/**
 * Bounded memory of recent predictions by id (oldest evicted first), so feedback can be
 * matched to the version and answer that produced it. Feedback for an evicted id, or one
 * served by another replica, counts as unmatched.
 */
export class PredictionMemory {
  private readonly map = new Map<string, Remembered>();
  private readonly tallies = new Map<string, { correct: number; total: number }>();
  constructor(private readonly capacity: number) {}

  remember(id: string, r: Remembered): void {
    if (this.capacity === 0) return;
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(id, r);
  }

  get(id: string): Remembered | undefined {
    return this.map.get(id);
  }

  /** Feedback is counted once per prediction. */
  forget(id: string): void {
    this.map.delete(id);
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
