import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from './metrics';
import { s3Sdk } from './store/store';

const gzipAsync = promisify(gzip);

export interface CaptureRecord {
  ts: string;
  request_id: string;
  model: string;
  version: string;
  instances: unknown[];
  predictions: unknown[];
}

/**
 * Sampled request/response capture for offline drift analysis, written to S3 as gzipped JSON
 * lines. Never on the request path: `offer` serializes the record and pushes it into a buffer
 * bounded in bytes (dropping and counting when full, including lines waiting for upload);
 * uploads happen on a timer or when a batch is full, and failures drop the batch (counted),
 * never the request.
 */
export class Capture {
  private buffer: string[] = [];
  /** Bytes held: buffered lines plus lines being uploaded. */
  private held = 0;
  private timer: NodeJS.Timeout;
  private inflight = new Set<Promise<void>>();
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly opts: { uri: string; sample: number; batch: number; maxBufferBytes: number; flushMs: number },
    private readonly client: S3Client,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
    private readonly random: () => number = Math.random,
  ) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(opts.uri)!;
    this.bucket = m[1]!;
    this.prefix = m[2]!.replace(/\/+$/, '');
    this.timer = setInterval(() => this.flush(), opts.flushMs);
    this.timer.unref();
  }

  /** Whether this request should be captured (decide before building the record). */
  sampled(): boolean {
    return this.random() < this.opts.sample;
  }

  offer(record: CaptureRecord): void {
    const line = JSON.stringify(record);
    if (this.held + line.length > this.opts.maxBufferBytes) {
      this.metrics.captureRecords.inc({ result: 'dropped_full' });
      return;
    }
    this.held += line.length;
    this.buffer.push(line);
    if (this.buffer.length >= this.opts.batch) this.flush();
  }

  private flush(): void {
    if (!this.buffer.length) return;
    const records = this.buffer.splice(0, this.opts.batch);
    const p = this.upload(records).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async upload(records: string[]): Promise<void> {
    const first = JSON.parse(records[0]!) as CaptureRecord;
    const day = first.ts.slice(0, 10);
    const key = `${this.prefix ? `${this.prefix}/` : ''}model=${first.model}/date=${day}/${first.ts.replace(/[:.]/g, '')}-${randomUUID()}.jsonl.gz`;
    const bytes = records.reduce((n, r) => n + r.length, 0);
    try {
      const body = await gzipAsync(records.join('\n') + '\n');
      await this.client.send(
        new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' }),
      );
      this.metrics.captureRecords.inc({ result: 'written' }, records.length);
    } catch (e) {
      this.metrics.captureRecords.inc({ result: 'dropped_error' }, records.length);
      this.log.warn({ err: { message: (e as Error).message }, records: records.length }, 'capture upload failed; batch dropped');
    } finally {
      this.held -= bytes;
    }
  }

  /** Flushes what is buffered and waits for uploads (on shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.buffer.length) this.flush();
    await Promise.all([...this.inflight]);
  }
}
