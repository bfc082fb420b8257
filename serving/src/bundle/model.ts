import { createHash } from 'node:crypto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { BundleError, type Golden, type Manifest, parseGolden, parseManifest } from './manifest';
import { Preprocessor } from './preprocess';

/** The raw files of a bundle, wherever they came from (folder or S3). */
export interface BundleFiles {
  manifest: Buffer;
  model: Buffer;
  golden: Buffer;
}

export interface Prediction {
  /** Classification: the winning label; regression: absent. */
  label?: string;
  /** Classification: one probability per label. */
  probabilities?: Record<string, number>;
  /** Classification: max probability. */
  confidence?: number;
  /** Regression: the predicted value. */
  value?: number;
}

function parseJson(buf: Buffer, file: string, reason: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new BundleError(`${file}: not valid JSON (${(e as Error).message})`, reason);
  }
}

/**
 * A verified, loaded model: manifest parsed, sha256 checked, ONNX session created and the
 * golden vectors reproduced. Only `load()` creates one, so holding a LoadedModel means it passed.
 */
export class LoadedModel {
  readonly preprocessor: Preprocessor;
  readonly outputWidth: number;
  /** The tracked statistic for drift: P(positive_label), confidence or the regression value. */
  readonly trackedColumn: number | 'max';
  private released = false;

  private constructor(
    readonly manifest: Manifest,
    private readonly session: InferenceSession,
  ) {
    this.preprocessor = new Preprocessor(manifest);
    this.outputWidth = manifest.task === 'regression' ? 1 : manifest.output.labels.length;
    this.trackedColumn =
      manifest.task === 'binary_classification'
        ? manifest.output.labels.indexOf(manifest.output.positive_label!)
        : manifest.task === 'regression'
          ? 0
          : 'max';
  }

  get name(): string {
    return this.manifest.name;
  }
  get version(): string {
    return this.manifest.version;
  }

  static async load(files: BundleFiles, opts: { intraOpThreads?: number } = {}): Promise<LoadedModel> {
    const manifest = parseManifest(parseJson(files.manifest, 'manifest.json', 'manifest'));
    const golden = parseGolden(parseJson(files.golden, manifest.golden, 'golden'));
    const sha = createHash('sha256').update(files.model).digest('hex');
    if (sha !== manifest.model.sha256)
      throw new BundleError(`${manifest.model.file}: sha256 is ${sha}, manifest says ${manifest.model.sha256}`, 'sha256');
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(files.model, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        logSeverityLevel: 3,
      });
    } catch (e) {
      throw new BundleError(`${manifest.model.file}: ONNX Runtime cannot load it (${(e as Error).message})`, 'onnx');
    }
    const model = new LoadedModel(manifest, session);
    try {
      model.checkSignature();
      await model.selfTest(golden);
    } catch (e) {
      await model.release();
      throw e;
    }
    return model;
  }

  private checkSignature(): void {
    const { input_name, output_name } = this.manifest.model;
    if (!this.session.inputNames.includes(input_name))
      throw new BundleError(`model.onnx has no input "${input_name}" (has ${this.session.inputNames.join(', ')})`, 'onnx');
    if (!this.session.outputNames.includes(output_name))
      throw new BundleError(`model.onnx has no output "${output_name}" (has ${this.session.outputNames.join(', ')})`, 'onnx');
  }

  /** Reproduces every golden case (preprocessing and output) within atol, or throws. */
  private async selfTest(golden: Golden): Promise<void> {
    const { atol, cases } = golden;
    const encoded = this.preprocessor.encode(cases.map((c) => c.instance));
    if (encoded.errors) {
      const e = encoded.errors[0]!;
      throw new BundleError(`golden case ${e.instance}: ${e.field ?? 'instance'} ${e.message}`, 'golden');
    }
    const dim = this.preprocessor.dim;
    const out = await this.run(encoded.data, cases.length);
    cases.forEach((c, n) => {
      const check = (what: string, expected: number[], actual: ArrayLike<number>, offset: number, width: number) => {
        if (expected.length !== width)
          throw new BundleError(`golden case ${n}: ${what} has ${expected.length} values, model gives ${width}`, 'golden');
        for (let j = 0; j < width; j++) {
          const diff = Math.abs(actual[offset + j]! - expected[j]!);
          if (!(diff <= atol))
            throw new BundleError(
              `golden case ${n}: ${what}[${j}] is ${actual[offset + j]}, expected ${expected[j]} (atol ${atol})`,
              'golden',
            );
        }
      };
      check('features', c.features, encoded.data, n * dim, dim);
      check('output', c.output, out, n * this.outputWidth, this.outputWidth);
    });
  }

  /** Runs the graph on a preprocessed [n, dim] batch; returns the flat [n, outputWidth] output. */
  async run(input: Float32Array, n: number): Promise<Float32Array> {
    const { input_name, output_name } = this.manifest.model;
    const result = await this.session.run({ [input_name]: new Tensor('float32', input, [n, this.preprocessor.dim]) }, [
      output_name,
    ]);
    const t = result[output_name]!;
    const data = t.data as Float32Array;
    if (data.length !== n * this.outputWidth)
      throw new Error(`model output ${output_name} has ${data.length} values for ${n} rows, expected ${n * this.outputWidth}`);
    return data;
  }

  /** Turns output row `n` into a friendly prediction (docs/model-bundle.md "Output"). */
  describe(out: Float32Array, n: number): Prediction {
    const w = this.outputWidth;
    const base = n * w;
    if (this.manifest.task === 'regression') return { value: out[base]! };
    const labels = this.manifest.output.labels;
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let j = 0; j < w; j++) {
      probabilities[labels[j]!] = out[base + j]!;
      if (out[base + j]! > out[base + best]!) best = j;
    }
    return { label: labels[best]!, probabilities, confidence: out[base + best]! };
  }

  /** Classification: max probability of output row `n`. */
  confidence(out: Float32Array, n: number): number {
    const base = n * this.outputWidth;
    let best = out[base]!;
    for (let j = 1; j < this.outputWidth; j++) if (out[base + j]! > best) best = out[base + j]!;
    return best;
  }

  /** The drift-tracked statistic of output row `n`. */
  tracked(out: Float32Array, n: number): number {
    if (this.trackedColumn === 'max') return this.confidence(out, n);
    return out[n * this.outputWidth + this.trackedColumn]!;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
