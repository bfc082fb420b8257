/**
 * Fleet-wide feedback: the DynamoDB prediction table (moto) shared by every replica, and the
 * feedback counts that give live accuracy in CloudWatch (moto).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Dimension, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { type Claim, MemoryPredictionStore, PREDICTION_TABLE, score } from '../src/feedback';
import { DynamoDbPredictionStore } from '../src/prediction-table';
import { cloudWatchClient, cloudWatchStatistic, CONTRACT_ENV, FIXTURE, instance, listen, post, startMoto, VERSION } from './helpers';
import { startServer } from './process';

let moto: Awaited<ReturnType<typeof startMoto>>;
let ddb: DynamoDBClient;
const silent = { warn() {}, info() {}, error() {} } as never;
const AWS_ENV = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };

async function createTable(name: string) {
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: PREDICTION_TABLE.partitionKey, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: PREDICTION_TABLE.partitionKey, AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

function counter() {
  const counts: Record<string, number> = {};
  return { counts, inc: (l: { result: string }, v = 1) => void (counts[l.result] = (counts[l.result] ?? 0) + v) };
}

const store = (table: string, now: () => number = Date.now, writes = counter()) =>
  new DynamoDbPredictionStore({ table, windowS: 3600, flushMs: 10, maxQueued: 1000, maxInflight: 4, closeTimeoutMs: 5000 }, writes, silent, ddb, now);

before(async () => {
  moto = await startMoto();
  ddb = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});
after(async () => {
  ddb.destroy();
  await moto.stop();
});

describe('the DynamoDB prediction store (moto)', () => {
  test('an id remembered by one replica is claimed by another with its answer, and once only: a third replica gets duplicate', async () => {
    await createTable('claims');
    const a = store('claims');
    const b = store('claims');
    const c = store('claims');
    a.remember('req-1', { model: 'churn', version: 'v1', labels: ['stay', 'churn'], positive: 'churn' });
    await a.close();
    const item = await ddb.send(new GetItemCommand({ TableName: 'claims', Key: { [PREDICTION_TABLE.partitionKey]: { S: 'req-1' } } }));
    const ttl = Number(item.Item![PREDICTION_TABLE.ttlAttribute]!.N);
    assert.ok(Math.abs(ttl - (Date.now() / 1000 + 3600)) < 5, `expires_at ${ttl} is the window from now`);
    // One conditional UpdateItem per claim: DynamoDB (not moto, which is not atomic across
    // threads) guarantees that of two simultaneous claims one fails its condition.
    assert.deepEqual(await b.claim('req-1.1'), { result: 'matched', model: 'churn', version: 'v1', label: 'churn', positive: 'churn' });
    assert.deepEqual(await c.claim('req-1.1'), { result: 'duplicate' });
    assert.deepEqual(await b.claim('req-1.0'), { result: 'matched', model: 'churn', version: 'v1', label: 'stay', positive: 'churn' });
    for (const id of ['req-1.2', 'req-9.0', 'no-dot', 'req-1.01', 'req-1.-1']) assert.deepEqual(await c.claim(id), { result: 'unmatched' }, id);
    await Promise.all([b.close(), c.close()]);
  });

  test('feedback to the replica that predicted, before its batch went out, waits for the write and matches', async () => {
    await createTable('pending');
    const s = new DynamoDbPredictionStore({ table: 'pending', windowS: 3600, flushMs: 60000, maxQueued: 1000, maxInflight: 1, closeTimeoutMs: 1000 }, counter(), silent, ddb);
    s.remember('r', { model: 'm', version: 'v2', values: [1.5, -2] });
    assert.deepEqual(await s.claim('r.1'), { result: 'matched', model: 'm', version: 'v2', value: -2 });
    await s.close();
  });

  test('a prediction older than the window is unmatched, even before DynamoDB deletes it', async () => {
    await createTable('window');
    let now = Date.now();
    const s = store('window', () => now);
    s.remember('old', { model: 'm', version: 'v1', labels: ['a'] });
    await s.close();
    now += 3601e3;
    const later = store('window', () => now);
    assert.deepEqual(await later.claim('old.0'), { result: 'unmatched' });
    await later.close();
  });

  test('close() writes everything queued, even more batches than may be in flight at once', async () => {
    await createTable('drain');
    const writes = counter();
    const s = new DynamoDbPredictionStore({ table: 'drain', windowS: 3600, flushMs: 60000, maxQueued: 1000, maxInflight: 1, closeTimeoutMs: 10000 }, writes, silent, ddb);
    for (let i = 0; i < 60; i++) s.remember(`d${i}`, { model: 'm', version: 'v1', labels: ['a'] });
    await s.close();
    assert.deepEqual(writes.counts, { written: 60 });
    assert.equal((await store('drain').claim('d59.0')).result, 'matched');
  });

  test('batches of 25: 60 requests are written in three calls, all counted', async () => {
    await createTable('batches');
    const writes = counter();
    const client = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const calls: number[] = [];
    client.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === 'BatchWriteItemCommand') calls.push((args.input as { RequestItems: Record<string, unknown[]> }).RequestItems.batches!.length);
      return next(args);
    });
    const s = new DynamoDbPredictionStore({ table: 'batches', windowS: 3600, flushMs: 10, maxQueued: 1000, maxInflight: 4, closeTimeoutMs: 5000 }, writes, silent, client);
    for (let i = 0; i < 60; i++) s.remember(`b${i}`, { model: 'm', version: 'v1', labels: ['a'] });
    await s.close();
    assert.deepEqual(calls, [25, 25, 10]);
    assert.deepEqual(writes.counts, { written: 60 });
    for (const i of [0, 24, 25, 59]) assert.equal((await store('batches').claim(`b${i}.0`)).result, 'matched');
  });

  test('a write that fails (no such table) is counted and dropped; the claim rejects so the API can answer 503', async () => {
    const writes = counter();
    const s = store('missing', Date.now, writes);
    s.remember('x', { model: 'm', version: 'v1', labels: ['a'] });
    await s.close();
    assert.deepEqual(writes.counts, { failed: 1 });
    await assert.rejects(store('missing').claim('x.0'), /ResourceNotFound|not found/i);
  });

  test('a NaN regression output is stored as nothing to match; a request too large for one item is not remembered, and its batch still goes out', async () => {
    await createTable('odd');
    const writes = counter();
    const s = store('odd', Date.now, writes);
    s.remember('nan', { model: 'm', version: 'v1', values: [Number.NaN, 2] });
    s.remember('huge', { model: 'm', version: 'v1', labels: Array(40000).fill('a-rather-long-label') });
    s.remember('ok', { model: 'm', version: 'v1', labels: ['a'] });
    await s.close();
    assert.deepEqual(writes.counts, { dropped_too_large: 1, written: 2 });
    const reader = store('odd');
    assert.deepEqual(await reader.claim('nan.0'), { result: 'unmatched' });
    assert.deepEqual(await reader.claim('nan.1'), { result: 'matched', model: 'm', version: 'v1', value: 2 });
    assert.deepEqual(await reader.claim('huge.0'), { result: 'unmatched' });
    assert.equal((await reader.claim('ok.0')).result, 'matched');
    await reader.close();
  });

  test('a full queue drops predictions, not requests', async () => {
    const writes = counter();
    const s = new DynamoDbPredictionStore({ table: 'none', windowS: 60, flushMs: 60000, maxQueued: 30, maxInflight: 0, closeTimeoutMs: 0 }, writes, silent, ddb);
    for (let i = 0; i < 40; i++) s.remember(`q${i}`, { model: 'm', version: 'v1', labels: ['a'] });
    assert.equal(writes.counts.dropped_full, 10);
    await s.close();
  });
});

describe('the in-memory store (one replica)', () => {
  test('claims once, honours the window and evicts the oldest beyond its capacity', async () => {
    let now = 0;
    const m = new MemoryPredictionStore(2, 60, () => now);
    m.remember('a', { model: 'm', version: 'v1', labels: ['x', 'y'] });
    m.remember('b', { model: 'm', version: 'v1', labels: ['x'] });
    assert.equal((await m.claim('a.1')).result, 'matched');
    assert.equal((await m.claim('a.1')).result, 'duplicate');
    m.remember('c', { model: 'm', version: 'v1', labels: ['x'] });
    assert.equal((await m.claim('a.0')).result, 'unmatched', 'evicted');
    now = 61e3;
    assert.equal((await m.claim('b.0')).result, 'unmatched', 'expired');
  });
});

test('score: binary confusion counts of the positive label, plain correctness for multi-class, absolute error for regression', () => {
  const m = (label: string, positive?: string): Claim => ({ result: 'matched', model: 'm', version: 'v', label, ...(positive ? { positive } : {}) });
  const cases: Array<[Claim, string | number, object]> = [
    [m('churn', 'churn'), 'churn', { correct: true, truePositive: 1, falsePositive: 0, falseNegative: 0 }],
    [m('churn', 'churn'), 'stay', { correct: false, truePositive: 0, falsePositive: 1, falseNegative: 0 }],
    [m('stay', 'churn'), 'churn', { correct: false, truePositive: 0, falsePositive: 0, falseNegative: 1 }],
    [m('stay', 'churn'), 'stay', { correct: true, truePositive: 0, falsePositive: 0, falseNegative: 0 }],
    [m('cat'), 'dog', { correct: false }],
    [{ result: 'matched', model: 'm', version: 'v', value: 2.5 }, 1, { absoluteError: 1.5 }],
  ];
  for (const [claim, actual, outcome] of cases) assert.deepEqual(score(claim as never, actual), outcome);
});

test('the API: a wrong type is a 400 that uses up nothing; an unreachable table is a 503 feedback_store_unavailable', async () => {
  await createTable('api');
  for (const [table, reachable] of [['api', true], ['no-such-table', false]] as const) {
    const { app, url } = await listen({ SERVING_PREDICTION_TABLE: table, SERVING_PREDICTION_FLUSH_MS: '10' }, { dynamodb: ddb });
    try {
      const pred = await post(`${url}/v1/models/churn:predict`, { instances: [instance] });
      const { id, label } = pred.body.predictions[0];
      const wrong = await post(`${url}/v1/models/churn:feedback`, { prediction_id: id, actual: 1 });
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.error, /^actual: must be a label string/);
      const right = await post(`${url}/v1/models/churn:feedback`, { prediction_id: id, actual: label });
      if (reachable) {
        assert.equal(right.status, 202);
        assert.deepEqual([right.body.matched, right.body.correct], [true, true]);
      } else {
        assert.equal(right.status, 503);
        assert.equal(right.body.code, 'feedback_store_unavailable');
      }
    } finally {
      await app.close();
    }
  }
});

/** A round-robin reverse proxy over the replicas, naming the one that answered in `x-upstream`. */
async function roundRobin(upstreams: string[]): Promise<{ url: string; server: Server }> {
  let next = 0;
  const server = createServer((req, res) => {
    const i = next++ % upstreams.length;
    const target = new URL(req.url!, upstreams[i]);
    const fwd = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, { ...up.headers, 'x-upstream': String(i) });
      up.pipe(res);
    });
    fwd.on('error', (e) => res.writeHead(502).end(e.message));
    req.pipe(fwd);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('two replicas behind a round-robin proxy (real processes, moto)', () => {
  test('feedback sent to the other replica matches, and the fleet-wide counts in CloudWatch give the right accuracy, precision and recall', async () => {
    await createTable('fleet');
    const env = {
      SERVING_MODEL_SOURCE: FIXTURE,
      ...AWS_ENV,
      ...CONTRACT_ENV,
      SERVING_TEAM: 'team-fleet',
      SERVING_EMF_SINK: 'cloudwatch',
      AWS_ENDPOINT_URL_CLOUDWATCH: moto.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: moto.endpoint,
      SERVING_PREDICTION_TABLE: 'fleet',
      SERVING_PREDICTION_FLUSH_MS: '20',
    };
    const replicas = [startServer(env), startServer(env)];
    let proxy: Server | undefined;
    try {
      const urls = await Promise.all(replicas.map((r) => r.url()));
      const rr = await roundRobin(urls);
      proxy = rr.server;
      const rows = [
        instance,
        { ...instance, monthly_charges: 20, plan: 'basic', support_calls: 0 },
        { ...instance, tenure_months: 60, age: 70, region: 'eu' },
        { ...instance, monthly_charges: 110, support_calls: 9, tenure_months: 1 },
      ];
      // 12 requests of 1 instance, alternating over the replicas.
      const made: Array<{ id: string; label: string; upstream: string }> = [];
      for (let i = 0; i < 12; i++) {
        const r = await post(`${rr.url}/v1/models/churn:predict`, { instances: [rows[i % rows.length]] });
        assert.equal(r.status, 200);
        made.push({ id: r.body.predictions[0].id, label: r.body.predictions[0].label, upstream: r.headers.get('x-upstream')! });
      }
      // One request between shifts the rotation: each feedback now reaches the other replica.
      assert.equal((await fetch(`${rr.url}/v2/health/live`)).status, 200);
      // The truth: the predicted label for 9 of them, the other label for 3.
      const other = (l: string) => (l === 'churn' ? 'stay' : 'churn');
      const actuals = made.map((p, i) => (i % 4 === 3 ? other(p.label) : p.label));
      for (const [i, p] of made.entries()) {
        const fb = await post(`${rr.url}/v1/models/churn:feedback`, { prediction_id: p.id, actual: actuals[i] });
        assert.equal(fb.status, 202);
        assert.notEqual(fb.headers.get('x-upstream'), p.upstream, 'the feedback reached the other replica');
        assert.deepEqual(fb.body.matched, true, JSON.stringify(fb.body));
        assert.equal(fb.body.correct, i % 4 !== 3);
        assert.equal(fb.body.model_version, VERSION);
      }
      // The same feedback again, on either replica, is not counted twice.
      for (const p of made.slice(0, 2)) {
        const again = await post(`${rr.url}/v1/models/churn:feedback`, { prediction_id: p.id, actual: 'stay' });
        assert.deepEqual(again.body.matched, false);
        assert.equal(again.body.reason, 'already_counted');
      }
      const expected = { tp: 0, fp: 0, fn: 0 };
      made.forEach((p, i) => {
        const predicted = p.label === 'churn';
        const truth = actuals[i] === 'churn';
        if (predicted && truth) expected.tp++;
        if (predicted && !truth) expected.fp++;
        if (!predicted && truth) expected.fn++;
      });
      // SIGTERM: each replica publishes its last interval on the way out.
      for (const r of replicas) r.proc.kill('SIGTERM');
      assert.deepEqual(await Promise.all(replicas.map((r) => r.exited)), [0, 0]);

      const cw = cloudWatchClient(moto.endpoint);
      const model: Dimension[] = [
        { Name: 'Team', Value: 'team-fleet' },
        { Name: 'Stage', Value: 'dev' },
        { Name: 'Model', Value: 'churn' },
      ];
      const listed = await cw.send(new ListMetricsCommand({ Namespace: 'MlPlatform/Serving', MetricName: 'FeedbackMatched', Dimensions: model }));
      assert.deepEqual(
        [...new Set(listed.Metrics!.map((m) => m.Dimensions!.map((d) => d.Name).join(',')))].sort(),
        ['Team,Stage,Model', 'Team,Stage,Model,Version'],
        'published under the alarm set and per version',
      );
      // moto sums every set that contains the query's dimensions: ask per version (the only one).
      const dims = [...model, { Name: 'Version', Value: VERSION }];
      const sum = (metric: string) => cloudWatchStatistic(cw, metric, dims, 'Sum');
      const matched = await sum('FeedbackMatched');
      const correct = await sum('FeedbackCorrect');
      const incorrect = await sum('FeedbackIncorrect');
      const [tp, fp, fn] = [await sum('FeedbackTruePositives'), await sum('FeedbackFalsePositives'), await sum('FeedbackFalseNegatives')];
      cw.destroy();
      assert.equal(matched, 12, 'every feedback counted once, fleet-wide');
      assert.equal(correct + incorrect, 12);
      assert.equal(correct / (correct + incorrect), 0.75, 'live accuracy (what the LowAccuracy alarm computes)');
      assert.deepEqual({ tp, fp, fn }, expected);
      assert.deepEqual(new Set(made.map((p) => p.upstream)), new Set(['0', '1']), 'both replicas predicted');
    } finally {
      proxy?.close();
      for (const r of replicas) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
    }
  });
});
