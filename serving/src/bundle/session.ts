import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/** What a session needs to know about the graph it runs: the input and output it feeds and reads. */
export interface GraphSpec {
  inputName: string;
  outputName: string;
  /** Features per row (the input's second dimension). */
  dim: number;
}

/** Runs a model graph; a worker pool or one session on the calling thread. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs that may be in flight at once (one per worker); the micro-batcher keeps this many busy. */
  readonly concurrency: number;
  /** Runs a [rows, dim] batch; with `transfer` the input's buffer moves to the worker (unusable after). */
  run(input: Float32Array, rows: number, transfer?: boolean): Promise<Float32Array>;
  /** Runs the batch on every session of the pool: the golden self-test checks each one. */
  runOnEach(input: Float32Array, rows: number): Promise<Float32Array[]>;
  release(): Promise<void>;
}

export function sessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
}

/**
 * One ONNX Runtime session on the calling thread. onnxruntime-node's run() is a synchronous
 * native call deferred to the next tick, so this blocks the thread it runs on: the service
 * uses the worker pool; this is for loadBundleDir (the trainer's tests, the bare bench server).
 */
export class InProcessSession implements ModelSession {
  readonly concurrency = 1;
  private constructor(
    private readonly session: InferenceSession,
    private readonly spec: GraphSpec,
  ) {}

  static async create(model: Uint8Array, spec: GraphSpec, intraOpThreads: number): Promise<InProcessSession> {
    return new InProcessSession(await InferenceSession.create(model, sessionOptions(intraOpThreads)), spec);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(input: Float32Array, rows: number): Promise<Float32Array> {
    const { inputName, outputName, dim } = this.spec;
    const result = await this.session.run({ [inputName]: new Tensor('float32', input, [rows, dim]) }, [outputName]);
    return result[outputName]!.data as Float32Array;
  }

  async runOnEach(input: Float32Array, rows: number): Promise<Float32Array[]> {
    return [await this.run(input, rows)];
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** What the pool hands a worker (workerData). */
export interface WorkerData extends GraphSpec {
  /** The model bytes, one shared copy for every worker. */
  model: Uint8Array;
  options: InferenceSession.SessionOptions;
}
export type WorkerRequest = { type: 'run'; input: Float32Array; rows: number } | { type: 'release' };
export type WorkerReply =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; output: Float32Array; ms: number }
  | { type: 'error'; message: string }
  | { type: 'released' };

interface Job {
  input: Float32Array;
  rows: number;
  transfer: boolean;
  resolve: (out: Float32Array) => void;
  reject: (e: Error) => void;
  /** The run's own duration in the worker (no hand-off), for measure(). */
  onTime?: (ms: number) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** Its worker died and a replacement is starting: it takes no job until then. */
  replacing: boolean;
}

/** The worker script next to this file: compiled .js in the image, .ts under tsx (dev, tests). */
function startWorker(data: WorkerData): Worker {
  const file = join(__dirname, `session-worker${extname(__filename)}`);
  if (file.endsWith('.ts')) {
    // tsx's loader hooks do not reach a worker's entry point on Node 20: register them first.
    return new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
  }
  return new Worker(file, { workerData: data });
}

/**
 * ONNX Runtime in worker threads, each with its own session, so a model run never blocks the
 * event loop (probes, metrics, parsing of other requests). Jobs go to the first idle worker;
 * more than `concurrency` at once wait in order. A worker that dies fails its one in-flight job
 * and is replaced; the others keep serving.
 */
export class WorkerSessionPool implements ModelSession {
  private readonly queue: Job[] = [];
  private released = false;
  private failure: Error | null = null;

  private constructor(
    private readonly data: WorkerData,
    private readonly slots: Slot[],
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  get concurrency(): number {
    return this.slots.length;
  }

  /** Starts `workers` threads and waits until each has a session, or rejects with ORT's reason. */
  static async create(model: Uint8Array, spec: GraphSpec, opts: { workers: number; intraOpThreads: number }): Promise<WorkerSessionPool> {
    const shared = new Uint8Array(new SharedArrayBuffer(model.byteLength));
    shared.set(model);
    const data: WorkerData = { ...spec, model: shared, options: sessionOptions(opts.intraOpThreads) };
    const started = await Promise.allSettled(Array.from({ length: Math.max(1, opts.workers) }, () => WorkerSessionPool.boot(data)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      throw failed.reason;
    }
    const booted = started.map((s) => (s as PromiseFulfilledResult<{ worker: Worker; names: { inputNames: string[]; outputNames: string[] } }>).value);
    const pool = new WorkerSessionPool(
      data,
      booted.map(({ worker }) => ({ worker, job: null, replacing: false })),
      booted[0]!.names.inputNames,
      booted[0]!.names.outputNames,
    );
    pool.slots.forEach((slot) => pool.listen(slot));
    return pool;
  }

  private static boot(data: WorkerData): Promise<{ worker: Worker; names: { inputNames: string[]; outputNames: string[] } }> {
    return new Promise((resolve, reject) => {
      const worker = startWorker(data);
      const onExit = (code: number) => reject(new Error(`inference worker exited (${code}) before its session was ready`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (m: WorkerReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (m.type === 'ready') resolve({ worker, names: m });
        else {
          void worker.terminate();
          reject(new Error(m.type === 'failed' ? m.message : `unexpected first message ${m.type}`));
        }
      });
    });
  }

  private listen(slot: Slot): void {
    slot.worker.on('message', (m: WorkerReply) => {
      const job = slot.job;
      if (!job || (m.type !== 'result' && m.type !== 'error')) return;
      slot.job = null;
      if (m.type === 'result') {
        job.onTime?.(m.ms);
        job.resolve(m.output);
      }
      else job.reject(new Error(m.message));
      this.dispatch();
    });
    slot.worker.on('error', () => {
      // 'exit' follows and replaces the worker.
    });
    slot.worker.on('exit', (code) => {
      if (this.released) return;
      slot.job?.reject(new Error(`inference worker exited (${code}) during a run`));
      slot.job = null;
      slot.replacing = true;
      WorkerSessionPool.boot(this.data).then(
        ({ worker }) => {
          if (this.released) return void worker.terminate();
          slot.worker = worker;
          slot.replacing = false;
          this.listen(slot);
          this.dispatch();
        },
        (e: Error) => {
          // The slot stays out of service; with none left, every run fails fast with why.
          if (this.slots.every((s) => s.replacing)) {
            this.failure = new Error(`every inference worker died and could not be replaced: ${e.message}`);
            for (const j of this.queue.splice(0)) j.reject(this.failure);
          }
        },
      );
    });
  }

  run(input: Float32Array, rows: number, transfer = false): Promise<Float32Array> {
    if (this.released) return Promise.reject(new Error('the model was released'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ input, rows, transfer, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (slot.job || slot.replacing) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const req: WorkerRequest = { type: 'run', input: job.input, rows: job.rows };
      slot.worker.postMessage(req, job.transfer ? [job.input.buffer as ArrayBuffer] : []);
    }
  }

  /** Milliseconds one run of this batch takes inside a worker (without the thread hand-off). */
  measure(input: Float32Array, rows: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let ms = 0;
      this.queue.push({ input, rows, transfer: false, resolve: () => resolve(ms), reject, onTime: (t) => (ms = t) });
      this.dispatch();
    });
  }

  /** Each worker runs the batch once, all at the same time; only on an idle pool (at load). */
  runOnEach(input: Float32Array, rows: number): Promise<Float32Array[]> {
    if (this.queue.length || this.slots.some((s) => s.job || s.replacing)) return Promise.reject(new Error('runOnEach needs an idle pool'));
    return Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<Float32Array>((resolve, reject) => {
            slot.job = { input, rows, transfer: false, resolve, reject };
            slot.worker.postMessage({ type: 'run', input, rows } satisfies WorkerRequest);
          }),
      ),
    );
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const j of this.queue.splice(0)) j.reject(new Error('the model was released'));
    await Promise.all(
      this.slots.map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            const done = () => void worker.terminate().then(() => resolve());
            worker.once('exit', () => resolve());
            worker.on('message', (m: WorkerReply) => m.type === 'released' && done());
            worker.postMessage({ type: 'release' } satisfies WorkerRequest);
          }),
      ),
    );
  }
}
