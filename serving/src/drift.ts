import type { Manifest } from './bundle/manifest';

const FLOOR = 1e-4;

/** PSI = Σ (p_live − p_ref) · ln(p_live / p_ref), each fraction floored at 1e-4. */
export function psi(live: ArrayLike<number>, ref: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < ref.length; i++) {
    const p = Math.max(live[i]!, FLOOR);
    const q = Math.max(ref[i]!, FLOOR);
    total += (p - q) * Math.log(p / q);
  }
  return total;
}

/** bucket i holds edges[i-1] < v <= edges[i]; bucket 0 is v <= edges[0]; the last v > edges[-1]. */
export function bucketOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A sliding window of bucket indices with running counts; O(1) per observation. */
class Window {
  private readonly ring: Uint16Array;
  private readonly counts: Uint32Array;
  private next = 0;
  size = 0;
  constructor(capacity: number, buckets: number) {
    this.ring = new Uint16Array(capacity);
    this.counts = new Uint32Array(buckets);
  }
  add(bucket: number): void {
    if (this.size === this.ring.length) this.counts[this.ring[this.next]!]!--;
    else this.size++;
    this.ring[this.next] = bucket;
    this.counts[bucket]!++;
    this.next = (this.next + 1) % this.ring.length;
  }
  fractions(): number[] {
    return Array.from(this.counts, (c) => c / this.size);
  }
}

interface FeatureTracker {
  name: string;
  ref: number[];
  window: Window;
  bucket: (v: unknown) => number;
}

/**
 * Live drift against the manifest's reference statistics (docs/model-bundle.md). Missing
 * values (and, for categorical features, out-of-vocabulary ones) are buckets of their own,
 * with reference fractions scaled by (1 - missing) so each distribution sums to 1.
 */
export class DriftMonitor {
  private readonly features: FeatureTracker[] = [];
  private readonly prediction: { ref: number[]; edges: number[]; window: Window } | null = null;

  constructor(
    manifest: Manifest,
    private readonly opts: { window: number; minSamples: number },
  ) {
    const ref = manifest.reference;
    if (!ref) return;
    for (const f of manifest.features) {
      const r = ref.features[f.name];
      if (!r) continue;
      const missing = r.missing ?? 0;
      if (r.type === 'numeric') {
        const edges = r.edges;
        const missingBucket = edges.length + 1;
        this.features.push({
          name: f.name,
          ref: [...r.fractions.map((x) => x * (1 - missing)), missing],
          window: new Window(opts.window, edges.length + 2),
          bucket: (v) => (typeof v === 'number' ? bucketOf(edges, v) : missingBucket),
        });
      } else if (f.type === 'categorical') {
        const vocab = new Map(f.vocabulary.map((w, i) => [w, i] as const));
        const unknownBucket = f.vocabulary.length;
        this.features.push({
          name: f.name,
          ref: [...f.vocabulary.map((w) => (r.fractions[w] ?? 0) * (1 - missing)), (r.unknown ?? 0) * (1 - missing), missing],
          window: new Window(opts.window, f.vocabulary.length + 2),
          bucket: (v) => (typeof v === 'string' ? (vocab.get(v) ?? unknownBucket) : unknownBucket + 1),
        });
      }
    }
    if (ref.prediction)
      this.prediction = {
        ref: ref.prediction.fractions,
        edges: ref.prediction.edges,
        window: new Window(opts.window, ref.prediction.edges.length + 1),
      };
  }

  observeInstance(instance: Record<string, unknown>): void {
    for (const f of this.features) f.window.add(f.bucket(instance[f.name]));
  }

  observePrediction(value: number): void {
    if (this.prediction) this.prediction.window.add(bucketOf(this.prediction.edges, value));
  }

  /** PSI per feature (and `prediction`) once the window holds minSamples values. */
  snapshot(): Array<{ feature: string; psi: number; samples: number }> {
    const out: Array<{ feature: string; psi: number; samples: number }> = [];
    for (const f of this.features)
      if (f.window.size >= this.opts.minSamples)
        out.push({ feature: f.name, psi: psi(f.window.fractions(), f.ref), samples: f.window.size });
    const p = this.prediction;
    if (p && p.window.size >= this.opts.minSamples)
      out.push({ feature: '__prediction__', psi: psi(p.window.fractions(), p.ref), samples: p.window.size });
    return out;
  }
}
