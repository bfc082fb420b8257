import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { type Dimension, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { SERVING_DIMENSIONS, SERVING_METRICS, SERVING_METRICS_NAMESPACE, SERVING_VERSION_DIMENSIONS, VERSION_DIMENSION } from '../src/cloudwatch-metrics';
import { type AliasFile, aliasFile, MODEL_STORE_PREFIX, modelRoot, versionDir } from '../src/store/layout';
import { S3Source } from '../src/store/store';
import { startServer } from './process';
import {
  bundleFiles,
  cloudWatchClient,
  cloudWatchStatistic,
  CONTRACT_ENV,
  contractTraffic,
  createBucket,
  instance,
  listen,
  load,
  maxInputPsi,
  mean,
  post,
  predictOnce,
  put,
  startMoto,
  VERSION,
  waitFor,
} from './helpers';

/**
 * Model loading from a real S3-compatible server (moto, started here on loopback): aliases,
 * hot swap and canary under load, and corrupt uploads that must be refused.
 */
let moto: Awaited<ReturnType<typeof startMoto>>;
const BUCKET = 'team-models';
const V2 = '20261127-000000-fixture2';

async function upload(root: string, version: string, files: Record<string, string | Buffer>) {
  for (const [name, body] of Object.entries(files)) await put(moto.client, BUCKET, `${root}/versions/${version}/${name}`, body);
}
async function alias(root: string, name: 'production' | 'candidate', body: object) {
  await put(moto.client, BUCKET, `${root}/aliases/${name}.json`, JSON.stringify(body));
}
async function metric(url: string, re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`${url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

before(async () => {
  moto = await startMoto();
  await createBucket(moto.client, BUCKET);
});
after(async () => moto?.stop());

function s3App(root: string, env: Record<string, string> = {}) {
  const uri = `s3://${BUCKET}/${root}`;
  return listen({ SERVING_MODEL_SOURCE: uri, ...env }, { source: new S3Source(uri, moto.client), s3: moto.client });
}

describe('S3 model store', () => {
  let app: FastifyInstance;
  let url: string;
  const root = 'models/churn';

  before(async () => {
    await upload(root, VERSION, bundleFiles());
    await alias(root, 'production', { version: VERSION });
    ({ app, url } = await s3App(root));
  });
  after(async () => app?.close());

  test('loads the production alias from S3', async () => {
    assert.deepEqual(await predictOnce(url), { status: 200, version: VERSION });
  });

  test('refuses a corrupt upload (sha256 mismatch), counts it, and keeps serving the old version', async () => {
    const bad = bundleFiles('corrupt-1');
    bad['model.onnx'] = Buffer.concat([bad['model.onnx'] as Buffer, Buffer.from('garbage')]);
    await upload(root, 'corrupt-1', bad);
    await alias(root, 'production', { version: 'corrupt-1' });
    const traffic = load(() => predictOnce(url), 8);
    await app.registry.sync();
    const r = await traffic.stop();
    assert.deepEqual([...r.statuses.keys()], [200]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual([...r.versions.keys()], [VERSION]);
    assert.equal(await metric(url, /model_load_failures_total\{model="churn",version="corrupt-1",alias="production",reason="sha256"\} (\d+)/), 1);
  });

  test('refuses a bundle whose golden vectors disagree, and a missing version', async () => {
    await upload(root, 'golden-bad', bundleFiles('golden-bad', (_m, g) => (g.cases[0].output[0] += 0.5)));
    await alias(root, 'production', { version: 'golden-bad' });
    await app.registry.sync();
    await alias(root, 'production', { version: 'never-uploaded' });
    await app.registry.sync();
    assert.deepEqual(await predictOnce(url), { status: 200, version: VERSION });
    assert.equal(await metric(url, /model_load_failures_total\{[^}]*version="golden-bad"[^}]*reason="golden"\} (\d+)/), 1);
    assert.equal(await metric(url, /model_load_failures_total\{[^}]*version="never-uploaded"[^}]*reason="missing_file"\} (\d+)/), 1);
  });

  test('hot swap under concurrent load: zero failed requests, then only the new version answers', async () => {
    await upload(root, V2, bundleFiles(V2));
    const traffic = load(() => predictOnce(url), 16);
    await waitFor('some traffic', () => traffic.total > 50);
    await alias(root, 'production', { version: V2 });
    await app.registry.sync();
    await waitFor('the new version to answer', () => (traffic.versions.get(V2) ?? 0) > 50);
    const r = await traffic.stop();
    assert.deepEqual(r.errors, []);
    assert.deepEqual([...r.statuses.keys()], [200], JSON.stringify([...r.statuses]));
    assert.ok(r.versions.get(VERSION)! > 0 && r.versions.get(V2)! > 0);
    assert.equal((await predictOnce(url)).version, V2);
    const meta = (await (await fetch(`${url}/v2/models/churn`)).json()) as any;
    assert.deepEqual(meta.versions, [V2]);
  });

  test('canary: traffic_percent share, sticky per request key, promotion and removal under load', async () => {
    const V3 = '20261128-000000-fixture3';
    await upload(root, V3, bundleFiles(V3));
    await alias(root, 'candidate', { version: V3, traffic_percent: 25 });
    const traffic = load(() => predictOnce(url), 4);
    await app.registry.sync();
    const keyed = new Map<string, string>();
    let toCandidate = 0;
    for (let i = 0; i < 400; i++) {
      const key = `customer-${i}`;
      const { version } = await predictOnce(url, { 'x-request-key': key });
      keyed.set(key, version!);
      if (version === V3) toCandidate++;
    }
    assert.ok(toCandidate > 60 && toCandidate < 140, `~25% of 400 keys go to the candidate, got ${toCandidate}`);
    for (const key of ['customer-1', 'customer-2', 'customer-3', 'customer-4'])
      for (let i = 0; i < 5; i++) assert.equal((await predictOnce(url, { 'x-request-key': key })).version, keyed.get(key));
    assert.match(await (await fetch(`${url}/metrics`)).text(), new RegExp(`model_traffic_percent\\{model="churn",version="${V3}",alias="candidate"\\} 25`));
    // promote: production -> V3 reuses the loaded candidate; then drop the candidate alias
    await alias(root, 'production', { version: V3 });
    await app.registry.sync();
    await alias(root, 'candidate', { version: V3, traffic_percent: 0 });
    await app.registry.sync();
    const r = await traffic.stop();
    assert.deepEqual(r.errors, []);
    assert.deepEqual([...r.statuses.keys()], [200]);
    assert.ok(r.versions.get(V3)! > 0);
    for (let i = 0; i < 20; i++) assert.equal((await predictOnce(url)).version, V3);
  });
});

describe('S3 polling, plain bundle prefix and capture', () => {
  test('the poll loop picks up an alias change on its own', async () => {
    const root = 'models/poll';
    await upload(root, VERSION, bundleFiles());
    await alias(root, 'production', { version: VERSION });
    const { app, url } = await s3App(root, { SERVING_POLL_INTERVAL_S: '0.1' });
    try {
      await upload(root, V2, bundleFiles(V2));
      await alias(root, 'production', { version: V2 });
      await waitFor('the poller to swap', async () => (await predictOnce(url)).version === V2);
    } finally {
      await app.close();
    }
  });

  test('a prefix holding a plain bundle is served as production; sampled capture lands in S3 as JSON lines', async () => {
    for (const [name, body] of Object.entries(bundleFiles())) await put(moto.client, BUCKET, `plain/${name}`, body);
    const { app, url } = await s3App('plain', {
      SERVING_CAPTURE_URI: `s3://${BUCKET}/capture`,
      SERVING_CAPTURE_SAMPLE: '1',
      SERVING_CAPTURE_BATCH: '10',
    });
    try {
      for (let i = 0; i < 25; i++) assert.equal((await predictOnce(url)).status, 200);
    } finally {
      await app.close(); // flushes the rest
    }
    const listed = await moto.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'capture/model=churn/' }));
    let lines = 0;
    for (const o of listed.Contents ?? []) {
      const obj = await moto.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
      const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString();
      for (const l of text.trim().split('\n')) {
        const rec = JSON.parse(l);
        assert.equal(rec.version, VERSION);
        assert.equal(rec.instances.length, rec.predictions.length);
        lines++;
      }
    }
    assert.equal(lines, 25);
  });
});

describe('capture never fails a request', () => {
  test('uploads that fail (missing bucket) are dropped and counted', async () => {
    const { app, url } = await listen(
      { SERVING_CAPTURE_URI: 's3://no-such-bucket/capture', SERVING_CAPTURE_SAMPLE: '1', SERVING_CAPTURE_BATCH: '1' },
      { s3: moto.client },
    );
    try {
      for (let i = 0; i < 5; i++) assert.equal((await predictOnce(url)).status, 200);
      await waitFor('uploads to fail', async () => (await metric(url, /capture_records_total\{result="dropped_error"\} (\d+)/)) === 5);
      assert.equal(await metric(url, /capture_records_total\{result="written"\} (\d+)/), 0);
    } finally {
      await app.close();
    }
  });

  test('a full buffer (bounded in bytes) drops records, not requests', async () => {
    const { app, url } = await listen(
      {
        SERVING_CAPTURE_URI: `s3://${BUCKET}/capture-full`,
        SERVING_CAPTURE_SAMPLE: '1',
        SERVING_CAPTURE_BATCH: '1000',
        SERVING_CAPTURE_FLUSH_S: '3600',
        SERVING_CAPTURE_MAX_BUFFER_BYTES: '2048',
      },
      { s3: moto.client },
    );
    try {
      for (let i = 0; i < 20; i++) assert.equal((await predictOnce(url)).status, 200);
      const dropped = await metric(url, /capture_records_total\{result="dropped_full"\} (\d+)/);
      assert.ok(dropped >= 14 && dropped < 20, `dropped ${dropped} of 20`);
    } finally {
      await app.close();
    }
  });
});

describe('interval metrics to CloudWatch (SERVING_EMF_SINK=cloudwatch, moto)', () => {
  test('the values arrive under [Team, Stage, Model] and [Team, Stage, Model, Version]', async () => {
    const team = 'team-a';
    const cw = cloudWatchClient(moto.endpoint);
    const { app, url } = await listen(
      { ...CONTRACT_ENV, SERVING_TEAM: team, SERVING_EMF_SINK: 'cloudwatch', SERVING_DRIFT_MIN_SAMPLES: '5' },
      { cloudwatch: cloudWatchClient(moto.endpoint) },
    );
    try {
      const confidences = await contractTraffic(url);
      const psi = await maxInputPsi(url);
      await app.flushMetrics();
      const listed = await cw.send(new ListMetricsCommand({ Namespace: 'MlPlatform/Serving', Dimensions: [{ Name: 'Team', Value: team }] }));
      const sets = new Map<string, string[]>();
      for (const m of listed.Metrics!) {
        const set = m.Dimensions!.map((d) => `${d.Name}=${d.Value}`).join(',');
        sets.set(set, [...(sets.get(set) ?? []), m.MetricName!].sort());
      }
      const expected = ['Errors', 'LatencyP99', 'LowConfidencePredictions', 'MaxFeatureDriftPsi', 'MeanConfidence', 'Predictions', 'Requests'];
      assert.deepEqual(Object.fromEntries(sets), {
        [`Team=${team},Stage=dev,Model=churn`]: expected,
        [`Team=${team},Stage=dev,Model=churn,Version=${VERSION}`]: expected,
      });
      const dims: Dimension[] = [
        { Name: 'Team', Value: team },
        { Name: 'Stage', Value: 'dev' },
        { Name: 'Model', Value: 'churn' },
        { Name: 'Version', Value: VERSION },
      ];
      assert.equal(await cloudWatchStatistic(cw, 'Requests', dims, 'Sum'), 4);
      assert.equal(await cloudWatchStatistic(cw, 'Errors', dims, 'Sum'), 0);
      assert.equal(await cloudWatchStatistic(cw, 'Predictions', dims, 'Sum'), 7);
      assert.ok(Math.abs((await cloudWatchStatistic(cw, 'MeanConfidence', dims, 'Average')) - mean(confidences)) < 1e-5);
      assert.ok((await cloudWatchStatistic(cw, 'LatencyP99', dims, 'Maximum')) > 0);
      assert.ok(Math.abs((await cloudWatchStatistic(cw, 'MaxFeatureDriftPsi', dims, 'Maximum')) - psi) < 1e-9);
      assert.doesNotMatch(await (await fetch(`${url}/metrics`)).text(), /^metrics_publish_failures_total\{/m);
    } finally {
      await app.close();
      cw.destroy();
    }
  });
});

describe('per-version metrics (what `npm run model -- status` and the canary check read)', () => {
  test('a production and a candidate version: Requests, Errors, LatencyP99 and MeanConfidence each under its Version, beside the alarm series', async () => {
    // GIVEN production and a 50% candidate in the store, metrics to moto's CloudWatch
    const team = 'team-versions';
    const root = 'models/per-version';
    await upload(root, VERSION, bundleFiles());
    await upload(root, V2, bundleFiles(V2));
    await alias(root, 'production', { version: VERSION });
    await alias(root, 'candidate', { version: V2, traffic_percent: 50 });
    const uri = `s3://${BUCKET}/${root}`;
    const cw = cloudWatchClient(moto.endpoint);
    const { app, url } = await listen(
      { ...CONTRACT_ENV, SERVING_MODEL_SOURCE: uri, SERVING_TEAM: team, SERVING_EMF_SINK: 'cloudwatch' },
      { source: new S3Source(uri, moto.client), cloudwatch: cloudWatchClient(moto.endpoint) },
    );
    try {
      // WHEN requests with distinct keys split over both versions
      const confidences = new Map<string, number[]>([[VERSION, []], [V2, []]]);
      for (let i = 0; i < 60; i++) {
        const r = await post(`${url}/v1/models/churn:predict`, { instances: [instance, { ...instance, age: 20 + i }] }, { 'x-request-key': `user-${i}` });
        assert.equal(r.status, 200);
        confidences.get(r.body.model_version)!.push(...r.body.predictions.map((p: { confidence: number }) => p.confidence));
      }
      assert.ok(confidences.get(VERSION)!.length > 0 && confidences.get(V2)!.length > 0, 'both versions answered');
      await app.flushMetrics();

      // THEN each version has its own series, named as the contract says
      const dims = (version?: string): Dimension[] => {
        const values: Record<string, string> = { Team: team, Stage: 'dev', Model: 'churn', ...(version ? { [VERSION_DIMENSION]: version } : {}) };
        return (version ? SERVING_VERSION_DIMENSIONS : SERVING_DIMENSIONS).map((Name) => ({ Name, Value: values[Name]! }));
      };
      const listed = await cw.send(new ListMetricsCommand({ Namespace: SERVING_METRICS_NAMESPACE, MetricName: SERVING_METRICS.requests, Dimensions: [{ Name: 'Team', Value: team }] }));
      // Unique sets (moto lists a set once per datum group that used it; CloudWatch once).
      const sets = [...new Set(listed.Metrics!.map((m) => m.Dimensions!.map((d) => `${d.Name}=${d.Value}`).join(',')))].sort();
      assert.deepEqual(sets, [
        `Team=${team},Stage=dev,Model=churn`,
        `Team=${team},Stage=dev,Model=churn,Version=${V2}`,
        `Team=${team},Stage=dev,Model=churn,Version=${VERSION}`,
      ].sort());
      for (const [version, seen] of confidences) {
        const d = dims(version);
        assert.equal(await cloudWatchStatistic(cw, SERVING_METRICS.requests, d, 'Sum'), seen.length / 2, version);
        assert.equal(await cloudWatchStatistic(cw, SERVING_METRICS.errors, d, 'Sum'), 0, version);
        assert.ok((await cloudWatchStatistic(cw, SERVING_METRICS.latencyP99, d, 'Maximum')) > 0, version);
        assert.ok(Math.abs((await cloudWatchStatistic(cw, SERVING_METRICS.meanConfidence, d, 'Average')) - mean(seen)) < 1e-5, version);
      }
    } finally {
      await app.close();
      cw.destroy();
    }
  });
});

describe('server process on S3 (AWS_ENDPOINT_URL_S3) under load', () => {
  before(async () => {
    await createBucket(moto.client, 'models');
    for (const [name, body] of Object.entries(bundleFiles())) await put(moto.client, 'models', `churn/versions/${VERSION}/${name}`, body);
    await put(moto.client, 'models', 'churn/aliases/production.json', JSON.stringify({ version: VERSION }));
  });

  test('SIGTERM during load: readiness fails first, zero failed requests, exit 0', async () => {
    const key = 'a-secret-key-for-the-test';
    const s = startServer({
      SERVING_MODEL_SOURCE: 's3://models/churn',
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      SERVING_S3_FORCE_PATH_STYLE: 'true',
      SERVING_API_KEYS: key,
      // Every access line, so the check below that none carries the key sees them all.
      SERVING_ACCESS_LOG_SAMPLE: '1',
      SERVING_SHUTDOWN_DELAY_MS: '1500',
      ...CONTRACT_ENV,
      SERVING_TEAM: 'team-process',
      SERVING_EMF_SINK: 'cloudwatch',
      AWS_ENDPOINT_URL_CLOUDWATCH: moto.endpoint,
    });
    try {
      const url = await s.url();
      const traffic = load(() => predictOnce(url, { authorization: `Bearer ${key}` }), 16);
      await waitFor('some traffic', () => traffic.total > 100);
      s.proc.kill('SIGTERM');
      // What the endpoints controller does: stop routing new requests once readiness fails.
      await waitFor('readiness to fail', async () => (await fetch(`${url}/v2/health/ready`)).status === 503);
      const r = await traffic.stop();
      assert.deepEqual(r.errors, []);
      assert.deepEqual([...r.statuses.keys()], [200], JSON.stringify([...r.statuses]));
      assert.ok(r.total > 100);
      assert.equal(await s.exited, 0);
      assert.match(s.stdout, /"msg":"shutdown complete"/);
      // The interval is an hour: what CloudWatch holds was published during the shutdown, through
      // AWS_ENDPOINT_URL_CLOUDWATCH, and counts every request the clients got an answer to.
      assert.doesNotMatch(s.stdout, /"msg":"emf"/, 'no EMF lines with the cloudwatch sink');
      const cw = cloudWatchClient(moto.endpoint);
      const dims: Dimension[] = [
        { Name: 'Team', Value: 'team-process' },
        { Name: 'Stage', Value: 'dev' },
        { Name: 'Model', Value: 'churn' },
        { Name: 'Version', Value: VERSION },
      ];
      assert.equal(await cloudWatchStatistic(cw, 'Requests', dims, 'Sum'), r.total);
      assert.equal(await cloudWatchStatistic(cw, 'Errors', dims, 'Sum'), 0);
      cw.destroy();
      assert.ok(!s.stdout.includes(key) && !s.stderr.includes(key), 'the API key never reaches the logs');
      const lines = s.stdout.split('\n').filter((l) => l.includes('"msg":"request"'));
      assert.ok(lines.length >= r.total);
      const line = JSON.parse(lines[0]!);
      assert.equal(line.model_version, VERSION);
      assert.equal(typeof line.latency_ms, 'number');
      assert.equal(line.status, 200);
    } finally {
      if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    }
  });
});

describe('first deploy: a store with no model yet', () => {
  test('a bucket that does not exist yet: not ready (store_unreadable), then ready once it holds a model', async () => {
    const bucket = 'created-later';
    const uri = `s3://${bucket}/${modelRoot(MODEL_STORE_PREFIX, 'churn')}`;
    const { app, url } = await listen({ SERVING_MODEL_SOURCE: uri }, { source: new S3Source(uri, moto.client) });
    try {
      const r = await fetch(`${url}/v2/health/ready`);
      assert.equal(r.status, 503);
      const body = (await r.json()) as { reason: string; message: string };
      assert.equal(body.reason, 'store_unreadable');
      assert.match(body.message, new RegExp(`^no model to serve yet: cannot read ${uri}: NoSuchBucket: .*; check that the bucket exists and the pod role may read it$`));
      await createBucket(moto.client, bucket);
      for (const [name, file] of Object.entries(bundleFiles())) await put(moto.client, bucket, `${MODEL_STORE_PREFIX}/churn/${versionDir(VERSION)}/${name}`, file);
      await put(moto.client, bucket, `${MODEL_STORE_PREFIX}/churn/${aliasFile('production')}`, JSON.stringify({ version: VERSION }));
      await app.registry.sync();
      assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
      assert.deepEqual(await predictOnce(url), { status: 200, version: VERSION });
    } finally {
      await app.close();
    }
  });

  test('the real process on an empty S3 store: live, not ready with the publish hint, then ready on publish with no restart', async () => {
    // GIVEN an empty models bucket and the service pointed where the chart points it
    const bucket = 'first-deploy-models';
    await createBucket(moto.client, bucket);
    const source = `s3://${bucket}/${modelRoot(MODEL_STORE_PREFIX, 'churn')}`;
    const s = startServer({
      SERVING_MODEL_SOURCE: source,
      SERVING_POLL_INTERVAL_S: '0.2',
      SERVING_TEAM: 'fraud',
      SERVING_STAGE: 'dev',
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      SERVING_S3_FORCE_PATH_STYLE: 'true',
    });
    try {
      const url = await s.url();
      const pid = s.proc.pid;
      // THEN live, not ready, and the body says where it looks and how to publish
      assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
      const r = await fetch(`${url}/v2/health/ready`);
      assert.equal(r.status, 503);
      const notReady = (await r.json()) as { ready: boolean; reason: string; message: string };
      assert.equal(notReady.ready, false);
      assert.equal(notReady.reason, 'no_model');
      assert.ok(notReady.message.startsWith(`no model to serve yet: ${source}/aliases/production.json does not exist; `), notReady.message);
      assert.match(notReady.message, /npm run model -- publish <training job \| s3:\/\/\.\.\.\/model\.tar\.gz \| bundle folder> --team fraud --stage dev, then npm run model -- promote <version> --team fraud --stage dev$/);
      const predict = await post(`${url}/v1/models/churn:predict`, { instances: [instance] });
      assert.equal(predict.status, 503);
      assert.equal(predict.body.code, 'model_not_ready');
      assert.equal(predict.body.reason, 'no_model');

      // WHEN a kubelet keeps probing liveness while a model is published (files first, alias last)
      const probes = load(async () => {
        const res = await fetch(`${url}/v2/health/live`);
        await res.arrayBuffer();
        return { status: res.status, version: null };
      }, 4);
      await waitFor('some liveness probes', () => probes.total > 50);
      for (const [name, file] of Object.entries(bundleFiles())) await put(moto.client, bucket, `${MODEL_STORE_PREFIX}/churn/${versionDir(VERSION)}/${name}`, file);
      const aliasBody: AliasFile = { version: VERSION, updated_at: '2026-12-01T22:00:00Z', updated_by: 'test', reason: 'first model' };
      await put(moto.client, bucket, `${MODEL_STORE_PREFIX}/churn/${aliasFile('production')}`, JSON.stringify(aliasBody));

      // THEN it becomes ready by polling, serves, and never restarted or failed a probe
      await waitFor('readiness', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);
      assert.deepEqual(await predictOnce(url), { status: 200, version: VERSION });
      const live = await probes.stop();
      assert.deepEqual(live.errors, []);
      assert.deepEqual([...live.statuses.keys()], [200]);
      assert.equal(s.proc.exitCode, null);
      assert.equal(s.proc.pid, pid);
      assert.equal(s.stdout.match(/Server listening at/g)?.length, 1, 'one start only');
      const sentence = s.stdout.split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(notReady.message)}`));
      assert.equal(sentence.length, 1, 'the not-ready sentence is logged once, not per poll');
      // Logs are buffered (flushed at least every 250 ms): wait for the line, do not race it.
      await waitFor('the ready log line', () => /"msg":"production model loaded: ready"/.test(s.stdout));
      s.proc.kill('SIGTERM');
      assert.equal(await s.exited, 0);
    } finally {
      if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    }
  });
});
