import type { FeatureSpec, Manifest } from './manifest';

/** One problem with one field of one instance; `instance` is the index in the request. */
export interface FieldError {
  instance: number;
  field: string | null;
  reason:
    | 'not_an_object'
    | 'unknown_feature'
    | 'missing_required'
    | 'wrong_type'
    | 'out_of_range'
    | 'unknown_category';
  message: string;
}


interface CompiledFeature {
  name: string;
  /** Writes the block for a present value; returns a reason code + message on rejection. */
  write: (value: unknown, out: Float32Array, at: number) => FieldError['reason'] | null;
  /** Writes the block for a missing/null value, or null when the feature is required. */
  writeMissing: ((out: Float32Array, at: number) => void) | null;
  width: number;
  describe: (reason: FieldError['reason'], value: unknown) => string;
}

function show(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function compileFeature(f: FeatureSpec): CompiledFeature {
  if (f.type === 'numeric') {
    const mean = f.mean;
    const std = f.std === 0 ? 1 : f.std;
    const min = f.min ?? -Infinity;
    const max = f.max ?? Infinity;
    const impute = f.impute ?? null;
    return {
      name: f.name,
      width: 1,
      write(v, out, at) {
        if (typeof v !== 'number' || !Number.isFinite(v)) return 'wrong_type';
        if (v < min || v > max) return 'out_of_range';
        out[at] = (v - mean) / std;
        return null;
      },
      writeMissing:
        f.required || impute === null
          ? null
          : (out, at) => {
              out[at] = (impute - mean) / std;
            },
      describe(reason, v) {
        if (reason === 'wrong_type') return `must be a finite number, got ${show(v)}`;
        const range = `[${f.min ?? '-inf'}, ${f.max ?? 'inf'}]`;
        return `must be within ${range}, got ${show(v)}`;
      },
    };
  }
  const index = new Map(f.vocabulary.map((w, i) => [w, i] as const));
  const width = f.vocabulary.length;
  const ignoreUnknown = f.unknown === 'ignore';
  const imputeAt = f.impute == null ? -1 : (index.get(f.impute) ?? -1);
  return {
    name: f.name,
    width,
    write(v, out, at) {
      if (typeof v !== 'string') return 'wrong_type';
      const i = index.get(v);
      if (i === undefined) {
        if (!ignoreUnknown) return 'unknown_category';
        out.fill(0, at, at + width);
        return null;
      }
      out.fill(0, at, at + width);
      out[at + i] = 1;
      return null;
    },
    writeMissing:
      f.required || imputeAt < 0
        ? null
        : (out, at) => {
            out.fill(0, at, at + width);
            out[at + imputeAt] = 1;
          },
    describe(reason, v) {
      if (reason === 'wrong_type') return `must be a string, got ${show(v)}`;
      const vocab = f.vocabulary.length > 10 ? `${f.vocabulary.slice(0, 10).join(', ')}, ...` : f.vocabulary.join(', ');
      return `unknown category ${show(v)}; expected one of: ${vocab}`;
    },
  };
}

/**
 * Turns raw named features into the model's float32 input, following the manifest exactly
 * (docs/model-bundle.md "Preprocessing"). Compiled once per bundle; the hot path allocates
 * only the output buffer.
 */
export class Preprocessor {
  readonly dim: number;
  private readonly features: CompiledFeature[];
  private readonly offsets: number[];
  private readonly known: Set<string>;

  constructor(manifest: Manifest, private readonly maxErrors = 20) {
    this.features = manifest.features.map(compileFeature);
    this.offsets = [];
    let at = 0;
    for (const f of this.features) {
      this.offsets.push(at);
      at += f.width;
    }
    this.dim = at;
    this.known = new Set(this.features.map((f) => f.name));
  }

  /**
   * Encodes `instances` into a new Float32Array [n, dim]. Returns the errors instead when
   * any instance is invalid (all instances are checked, up to maxErrors reported).
   */
  encode(instances: readonly unknown[]): { data: Float32Array; errors: null } | { data: null; errors: FieldError[] } {
    const dim = this.dim;
    const data = new Float32Array(instances.length * dim);
    const errors: FieldError[] = [];
    for (let n = 0; n < instances.length; n++) {
      const inst = instances[n];
      if (typeof inst !== 'object' || inst === null || Array.isArray(inst)) {
        errors.push({ instance: n, field: null, reason: 'not_an_object', message: 'must be an object of named features' });
        if (errors.length >= this.maxErrors) break;
        continue;
      }
      const rec = inst as Record<string, unknown>;
      for (const key in rec) {
        if (!this.known.has(key)) {
          errors.push({ instance: n, field: key, reason: 'unknown_feature', message: 'is not a feature of this model' });
        }
      }
      const base = n * dim;
      for (let i = 0; i < this.features.length; i++) {
        const f = this.features[i]!;
        const v = rec[f.name];
        const at = base + this.offsets[i]!;
        if (v === undefined || v === null) {
          if (f.writeMissing) f.writeMissing(data, at);
          else errors.push({ instance: n, field: f.name, reason: 'missing_required', message: 'is required' });
          continue;
        }
        const reason = f.write(v, data, at);
        if (reason) errors.push({ instance: n, field: f.name, reason, message: f.describe(reason, v) });
      }
      if (errors.length >= this.maxErrors) break;
    }
    return errors.length ? { data: null, errors: errors.slice(0, this.maxErrors) } : { data, errors: null };
  }
}

