import { createHash } from 'node:crypto';
import { BundleError, type Golden, type Manifest, parseGolden, parseManifest } from './manifest';
import { Preprocessor } from './preprocess';
import { InProcessSession, type ModelSession, WorkerSessionPool } from './session';

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

/** Rows a batch may have to run on the event loop: those estimated within `budgetMs`, from a run of `rows` rows that took `ms`. */
export function inlineRowsFor(budgetMs: number, ms: number, rows: number): number {
  if (budgetMs <= 0) return 0;
  return Math.floor(budgetMs / (Math.max(ms, 1e-3) / rows));
}

/**
 * A verified, loaded model: manifest parsed, sha256 checked, ONNX session created and the
 * golden vectors reproduced. Only `load()` creates one, so holding a LoadedModel means it passed.
 */
export class LoadedModel {
  readonly outputWidth: number;
  /** The tracked statistic for drift: P(positive_label), confidence or the regression value. */
  readonly trackedColumn: number | 'max';
  /** Binary with `output.threshold`: [positive column, other column, threshold]; else argmax. */
  private readonly decision: readonly [number, number, number] | undefined;
  private released = false;

  private constructor(
    readonly manifest: Manifest,
    readonly preprocessor: Preprocessor,
    private readonly session: ModelSession,
    /** A session on the calling thread for batches of at most inlineMaxRows rows (see load). */
    private readonly inline: InProcessSession | null,
    private readonly inlineMaxRows: number,
  ) {
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

  /** Runs that may be in flight at once: the worker pool's size (1 in-process). */
  get concurrency(): number {
    return this.session.concurrency;
  }

  /**
   * Verifies and loads a bundle. `workers` > 0: the graph runs in that many worker threads,
   * each with its own session (the service); 0: on the calling thread (loadBundleDir).
   * `inlineBudgetMs` > 0 (with workers): a batch whose run is estimated (from a timed golden
   * run in a worker) to take at most that long runs on the calling thread instead, where the
   * two thread hand-offs would cost more than the run holds the event loop.
   */
  static async load(
    files: BundleFiles,
    opts: { intraOpThreads?: number; workers?: number; inlineBudgetMs?: number } = {},
  ): Promise<LoadedModel> {
    const manifest = parseManifest(parseJson(files.manifest, 'manifest.json', 'manifest'));
    const golden = parseGolden(parseJson(files.golden, manifest.golden, 'golden'));
    const sha = createHash('sha256').update(files.model).digest('hex');
    if (sha !== manifest.model.sha256)
      throw new BundleError(`${manifest.model.file}: sha256 is ${sha}, manifest says ${manifest.model.sha256}`, 'sha256');
    const preprocessor = new Preprocessor(manifest);
    const spec = { inputName: manifest.model.input_name, outputName: manifest.model.output_name, dim: preprocessor.dim };
    const intraOpThreads = opts.intraOpThreads ?? 1;
    const workers = opts.workers ?? 0;
    let session: ModelSession;
    try {
      session =
        workers > 0
          ? await WorkerSessionPool.create(files.model, spec, { workers, intraOpThreads })
          : await InProcessSession.create(files.model, spec, intraOpThreads);
    } catch (e) {
      throw new BundleError(`${manifest.model.file}: ONNX Runtime cannot load it (${(e as Error).message})`, 'onnx');
    }
    let model = new LoadedModel(manifest, preprocessor, session, null, 0);
    try {
      model.checkSignature();
      const encoded = await model.selfTest(golden);
      const budget = opts.inlineBudgetMs ?? 0;
      if (session instanceof WorkerSessionPool && budget > 0) {
        const rows = golden.cases.length;
        await session.measure(encoded, rows); // warm-up
        // The fastest of three: a run preempted by other load says nothing about the model.
        const ms = Math.min(...(await Promise.all([0, 1, 2].map(() => session.measure(encoded, rows)))));
        const maxRows = inlineRowsFor(budget, ms, rows);
        if (maxRows >= 1) {
          const inline = await InProcessSession.create(files.model, spec, intraOpThreads);
          model = new LoadedModel(manifest, preprocessor, session, inline, maxRows);
          await model.selfTest(golden, async (data, n) => [await inline.run(data, n)]);
        }
      }
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

  /** Reproduces every golden case (preprocessing and output) within atol on every worker, or throws. */
  private async selfTest(
    golden: Golden,
    runEach: (data: Float32Array, rows: number) => Promise<Float32Array[]> = (data, rows) => this.session.runOnEach(data, rows),
  ): Promise<Float32Array> {
    const { atol, cases } = golden;
    const encoded = this.preprocessor.encode(cases.map((c) => c.instance));
    if (encoded.errors) {
      const e = encoded.errors[0]!;
      throw new BundleError(`golden case ${e.instance}: ${e.field ?? 'instance'} ${e.message}`, 'golden');
    }
    const dim = this.preprocessor.dim;
    const outs = await runEach(encoded.data, cases.length);
    for (const out of outs) this.checkLength(out, cases.length);
    for (const out of outs) cases.forEach((c, n) => {
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
    return encoded.data;
  }

  /** Batches of at most this many rows run on the calling thread (0: none; see load). */
  get inlineRows(): number {
    return this.inlineMaxRows;
  }

  /**
   * Runs the graph on a preprocessed [n, dim] batch; returns the flat [n, outputWidth] output.
   * `transfer`: the input's buffer moves to the worker (for a batch built only for this run).
   */
  async run(input: Float32Array, n: number, transfer = false): Promise<Float32Array> {
    const session = this.inline && n <= this.inlineMaxRows ? this.inline : this.session;
    return this.checkLength(await session.run(input, n, transfer), n);
  }

  private checkLength(data: Float32Array, n: number): Float32Array {
    if (data.length !== n * this.outputWidth)
      throw new Error(`model output ${this.manifest.model.output_name} has ${data.length} values for ${n} rows, expected ${n * this.outputWidth}`);
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
    await Promise.all([this.session.release(), this.inline?.release()]);
  }
}
