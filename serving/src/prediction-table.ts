import type { AttributeValue, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { FastifyBaseLogger } from 'fastify';
import { answerOf, type Claim, parsePredictionId, PREDICTION_TABLE as T, type PredictionStore, type Remembered } from './feedback';

/** BatchWriteItem takes at most 25 items per call. */
export const MAX_ITEMS_PER_BATCH = 25;

export interface PredictionTableOptions {
  table: string;
  /** Seconds a prediction can get feedback (its item's TTL). */
  windowS: number;
  /** Longest a remembered request waits before its batch is sent. */
  flushMs: number;
  /** Items waiting to be written beyond this are dropped (and counted), never the request. */
  maxQueued: number;
  /** BatchWriteItem calls in flight at once. */
  maxInflight: number;
  /** On close(), the longest wait for the last writes. */
  closeTimeoutMs: number;
}

export interface PredictionWrites {
  inc(labels: { result: 'written' | 'dropped_full' | 'dropped_too_large' | 'failed' }, value?: number): void;
}

/**
 * DynamoDB refuses an item over 400 KB, and with it the whole batch: a request whose answers
 * alone come near that (tens of thousands of instances) is not remembered.
 */
export const MAX_ANSWER_BYTES = 300 * 1024;

interface Queued {
  request: string;
  write: WriteRequest;
}

/**
 * The fleet's prediction store: a DynamoDB table (PREDICTION_TABLE in ./feedback.ts) that every
 * replica writes its answers to and claims feedback from, so feedback posted to any replica
 * matches a prediction made by any other, for the whole window.
 *
 * Off the request path: `remember` queues the item; batches of 25 go out with BatchWriteItem
 * when full or after `flushMs`, at most `maxInflight` at a time, unprocessed items retried with
 * backoff. A full queue or a failed batch drops predictions (counted: their feedback will be
 * unmatched), never requests.
 *
 * A claim is one conditional UpdateItem that adds the instance to the item's `seen` set only
 * if the item exists, has not expired, has that instance and has not had its feedback yet:
 * two replicas claiming the same id at once cannot both count it. Feedback for a request this
 * replica has not written yet waits for that write first.
 */
export class DynamoDbPredictionStore implements PredictionStore {
  readonly kind = 'dynamodb' as const;
  private queue: Queued[] = [];
  private inflight = 0;
  /** Requests queued or being written, with the promise of their write. */
  private readonly pending = new Map<string, { written: Promise<void>; resolve: () => void }>();
  private readonly timer: NodeJS.Timeout;
  private readonly client: DynamoDBClient;
  /** After close(): a finished call sends the partial batch too (the timer is gone). */
  private closing = false;

  constructor(
    private readonly opts: PredictionTableOptions,
    private readonly writes: PredictionWrites,
    private readonly log: FastifyBaseLogger,
    client?: DynamoDBClient,
    private readonly now: () => number = Date.now,
  ) {
    // Region, credentials and AWS_ENDPOINT_URL_DYNAMODB come from the standard SDK chain.
    this.client = client ?? new (sdk().DynamoDBClient)({ maxAttempts: 3, requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } });
    this.timer = setInterval(() => this.pump(true), opts.flushMs);
    this.timer.unref();
  }

  remember(requestId: string, r: Remembered): void {
    if (this.queue.length >= this.opts.maxQueued) {
      this.writes.inc({ result: 'dropped_full' });
      return;
    }
    // A NaN or infinite regression output has no DynamoDB number: stored as NULL, it matches nothing.
    const answers: AttributeValue[] = r.labels
      ? r.labels.map((S) => ({ S }))
      : r.values!.map((v) => (Number.isFinite(v) ? { N: String(v) } : { NULL: true }));
    let bytes = 0;
    for (const a of answers) bytes += (a.S ?? a.N ?? '').length + 3;
    if (bytes > MAX_ANSWER_BYTES) {
      this.writes.inc({ result: 'dropped_too_large' });
      return;
    }
    const item: Record<string, AttributeValue> = {
      [T.partitionKey]: { S: requestId },
      model: { S: r.model },
      version: { S: r.version },
      [T.answers]: { L: answers },
      [T.ttlAttribute]: { N: String(Math.floor(this.now() / 1000) + this.opts.windowS) },
    };
    if (r.positive !== undefined) item.positive = { S: r.positive };
    this.queue.push({ request: requestId, write: { PutRequest: { Item: item } } });
    let resolve!: () => void;
    const written = new Promise<void>((r) => (resolve = r));
    this.pending.set(requestId, { written, resolve });
    if (this.queue.length >= MAX_ITEMS_PER_BATCH) this.pump(false);
  }

  /** Sends full batches (and, when `partial`, the last partial one) while calls are free. */
  private pump(partial: boolean): void {
    while (this.inflight < this.opts.maxInflight && (this.queue.length >= MAX_ITEMS_PER_BATCH || (partial && this.queue.length > 0))) {
      const batch = this.queue.splice(0, MAX_ITEMS_PER_BATCH);
      this.inflight++;
      void this.write(batch).finally(() => {
        this.inflight--;
        for (const q of batch) {
          this.pending.get(q.request)?.resolve();
          this.pending.delete(q.request);
        }
        this.pump(this.closing);
      });
    }
  }

  private async write(batch: Queued[]): Promise<void> {
    const { BatchWriteItemCommand } = sdk();
    let items = batch.map((q) => q.write);
    try {
      for (let attempt = 0; items.length && attempt < 4; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const res = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.opts.table]: items } }));
        const left = res.UnprocessedItems?.[this.opts.table] ?? [];
        this.writes.inc({ result: 'written' }, items.length - left.length);
        items = left;
      }
      if (items.length) throw new Error(`${items.length} items still unprocessed after 4 attempts (throttled)`);
    } catch (e) {
      this.writes.inc({ result: 'failed' }, items.length);
      this.log.warn({ err: { name: (e as Error).name, message: (e as Error).message }, items: items.length, table: this.opts.table }, 'prediction table: write failed; feedback for these predictions will be unmatched');
    }
  }

  async claim(id: string): Promise<Claim> {
    const parsed = parsePredictionId(id);
    if (!parsed) return { result: 'unmatched' };
    const pending = this.pending.get(parsed.request);
    if (pending) {
      this.pump(true);
      await pending.written;
    }
    const { UpdateItemCommand, ConditionalCheckFailedException } = sdk();
    const index = { N: String(parsed.index) };
    try {
      const res = await this.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: { [T.partitionKey]: { S: parsed.request } },
          UpdateExpression: 'ADD #seen :index',
          ConditionExpression: 'attribute_exists(#pk) AND #ttl > :now AND size(#answers) > :i AND NOT contains(#seen, :i)',
          ExpressionAttributeNames: { '#pk': T.partitionKey, '#ttl': T.ttlAttribute, '#answers': T.answers, '#seen': T.seen },
          ExpressionAttributeValues: { ':index': { NS: [index.N] }, ':i': index, ':now': { N: String(Math.floor(this.now() / 1000)) } },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return answerOf(remembered(res.Attributes!), parsed.index) ?? { result: 'unmatched' };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const seen = e.Item?.[T.seen]?.NS ?? [];
      const live = Number(e.Item?.[T.ttlAttribute]?.N ?? 0) > this.now() / 1000;
      return live && seen.includes(index.N) ? { result: 'duplicate' } : { result: 'unmatched' };
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    this.pump(true);
    const all = Promise.all([...this.pending.values()].map((p) => p.written));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => (timer = setTimeout(r, this.opts.closeTimeoutMs)));
    await Promise.race([all, deadline]);
    clearTimeout(timer);
    if (this.queue.length) {
      this.writes.inc({ result: 'failed' }, this.queue.length);
      this.log.warn({ items: this.queue.length }, 'prediction table: shutdown deadline passed; unwritten predictions dropped');
    }
    this.client.destroy();
  }
}

function remembered(item: Record<string, AttributeValue>): Remembered {
  const answers = item[T.answers]?.L ?? [];
  const r: Remembered = { model: item.model!.S!, version: item.version!.S! };
  if (answers.some((a) => a.S !== undefined)) r.labels = answers.map((a) => a.S!);
  else r.values = answers.map((a) => (a.N === undefined ? (undefined as never) : Number(a.N)));
  if (item.positive?.S !== undefined) r.positive = item.positive.S;
  return r;
}

function sdk(): typeof import('@aws-sdk/client-dynamodb') {
  // Loaded only when a prediction table is configured (startup time, memory).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-dynamodb');
}
