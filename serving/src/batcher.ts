import type { LoadedModel } from './bundle/model';

interface Job {
  input: Float32Array;
  rows: number;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

/** A slice of a coalesced run: rows [offset, offset + rows) of `output`. */
export interface BatchResult {
  output: Float32Array;
  offset: number;
}

/**
 * Coalesces concurrent requests into ONNX Runtime runs, one run per inference worker at a time.
 * A request that finds a worker idle is run on the next turn of the event loop (after every
 * request already parsed in this turn has queued), or after maxWaitMs when set; requests
 * arriving while every worker is busy queue and go together in the next free worker's run. So an idle server adds no latency, and a busy one
 * amortises the per-run cost over many rows.
 */
export class MicroBatcher {
  private queue: Job[] = [];
  private queuedRows = 0;
  private scheduled = false;
  /** Runs in flight: up to the model's concurrency (one per inference worker). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly model: LoadedModel,
    private readonly opts: { maxRows: number; maxWaitMs: number },
    private readonly onBatch?: (rows: number) => void,
  ) {}

  get pending(): number {
    return this.queue.length + this.running;
  }

  predict(input: Float32Array, rows: number): Promise<BatchResult> {
    return new Promise<BatchResult>((resolve, reject) => {
      this.queue.push({ input, rows, resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (used before releasing the model). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.model.concurrency) return;
    this.scheduled = true;
    if (this.opts.maxWaitMs > 0 && this.queuedRows < this.opts.maxRows) setTimeout(() => this.flush(), this.opts.maxWaitMs);
    else setImmediate(() => this.flush());
  }

  private takeBatch(): Job[] {
    const jobs: Job[] = [];
    let rows = 0;
    while (this.queue.length) {
      const next = this.queue[0]!;
      if (jobs.length && rows + next.rows > this.opts.maxRows) break;
      jobs.push(this.queue.shift()!);
      rows += next.rows;
    }
    this.queuedRows -= rows;
    return jobs;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const jobs = this.takeBatch();
    if (!jobs.length) return this.settle();
    this.running++;
    try {
      let input: Float32Array;
      let rows = 0;
      if (jobs.length === 1) {
        input = jobs[0]!.input;
        rows = jobs[0]!.rows;
      } else {
        for (const j of jobs) rows += j.rows;
        input = new Float32Array(rows * this.model.preprocessor.dim);
        let at = 0;
        for (const j of jobs) {
          input.set(j.input, at);
          at += j.input.length;
        }
      }
      this.onBatch?.(rows);
      // A coalesced input was built for this run only: its buffer moves to the worker.
      const output = await this.model.run(input, rows, jobs.length > 1);
      let offset = 0;
      for (const j of jobs) {
        j.resolve({ output, offset });
        offset += j.rows;
      }
    } catch (e) {
      for (const j of jobs) j.reject(e);
    } finally {
      this.running--;
      if (this.queue.length) this.schedule();
      else this.settle();
    }
  }

  private settle(): void {
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
