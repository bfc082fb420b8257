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
  /** Classification: the decided label (the threshold's, or argmax); regression: absent. */
  label?: string;
  /** Classification: one probability per label. */
  probabilities?: Record<string, number>;
  /** Classification: max probability, whatever the decision threshold. */
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
  /** Binary with `output.threshold`: [positive column, other column, threshold]; else argmax. */
  private readonly decision: readonly [number, number, number] | undefined;
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
    const threshold = manifest.output.threshold;
    this.decision =
      manifest.task === 'binary_classification' && threshold !== undefined
        ? [this.trackedColumn as number, 1 - (this.trackedColumn as number), threshold]
        : undefined;
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
      // A probability within atol of the threshold may round either way: its label proves nothing.
      const nearThreshold =
        this.decision !== undefined && Math.abs(out[n * this.outputWidth + this.decision[0]]! - this.decision[2]) <= atol;
      if (c.label !== undefined && !nearThreshold && this.manifest.task !== 'regression') {
        const label = this.label(out, n);
        if (label !== c.label) throw new BundleError(`golden case ${n}: label is "${label}", expected "${c.label}"`, 'golden');
      }
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
    for (let j = 0; j < w; j++) probabilities[labels[j]!] = out[base + j]!;
    return { label: this.label(out, n), probabilities, confidence: this.confidence(out, n) };
  }

  /**
   * Classification: the label of output row `n`. Binary with a threshold: positive_label when
   * its probability is >= threshold, else the other label; otherwise argmax, first index on a tie.
   */
  label(out: Float32Array, n: number): string {
    const base = n * this.outputWidth;
    const labels = this.manifest.output.labels;
    if (this.decision) {
      const [positive, other, threshold] = this.decision;
      return labels[out[base + positive]! >= threshold ? positive : other]!;
    }
    let best = 0;
    for (let j = 1; j < this.outputWidth; j++) if (out[base + j]! > out[base + best]!) best = j;
    return labels[best]!;
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
