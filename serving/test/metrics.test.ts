import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { FastifyBaseLogger } from 'fastify';
import { CloudWatchSink, EmfReporter, type MetricGroup, MAX_DATUMS_PER_CALL } from '../src/emf';
import { aliasFile, versionDir } from '../src/store/layout';
import { bundleFiles, cloudWatchClient, CONTRACT_ENV, freePort, listen, maxInputPsi, mean, predictOnce, contractTraffic, VERSION, waitFor } from './helpers';

/**
 * Interval metrics against the monitoring contract (constructs/monitoring/serving-metrics.ts):
 * the EMF line on stdout, the reporter and PutMetricData sink on their own, and a CloudWatch
 * endpoint that refuses or hangs. Emits are triggered with app.flushMetrics() (the interval is
 * an hour), never waited for. Delivery into a real moto server is in s3.test.ts (it runs one).
 */
const NAMESPACE = 'MlPlatform/Serving';

/** A logger stream that keeps every line. */
function captured() {
  const lines: Array<Record<string, any>> = [];
  return { lines, logger: { level: 'info', stream: { write: (l: string) => void lines.push(JSON.parse(l)) } } };
}

describe('EMF on stdout (SERVING_EMF_SINK=stdout, the default)', () => {
  test('one line per version with the contract namespace, dimension sets and values', async () => {
    const log = captured();
    const { app, url } = await listen({ ...CONTRACT_ENV, SERVING_DRIFT_MIN_SAMPLES: '5' }, { logger: log.logger });
    try {
      const confidences = await contractTraffic(url);
      const psi = await maxInputPsi(url);
      await app.flushMetrics();
      const emf = log.lines.filter((l) => l.msg === 'emf');
      assert.equal(emf.length, 1);
      const line = emf[0]!;
      assert.deepEqual(line._aws.CloudWatchMetrics, [
        {
          Namespace: NAMESPACE,
          Dimensions: [
            ['Team', 'Stage', 'Model'],
            ['Team', 'Stage', 'Model', 'Version'],
          ],
          Metrics: [
            { Name: 'Requests', Unit: 'Count' },
            { Name: 'Errors', Unit: 'Count' },
            { Name: 'Predictions', Unit: 'Count' },
            { Name: 'LowConfidencePredictions', Unit: 'Count' },
            { Name: 'LatencyP99', Unit: 'Milliseconds' },
            { Name: 'MeanConfidence', Unit: 'None' },
            { Name: 'MaxFeatureDriftPsi', Unit: 'None' },
          ],
        },
      ]);
      assert.equal(typeof line._aws.Timestamp, 'number');
      assert.equal(line.Team, 'fraud');
      assert.equal(line.Stage, 'dev');
      assert.equal(line.Model, 'churn');
      assert.equal(line.Version, VERSION);
      assert.equal(line.Requests, 4);
      assert.equal(line.Errors, 0);
      assert.equal(line.Predictions, 7);
      assert.equal(line.LowConfidencePredictions, confidences.filter((c) => c < 0.6).length);
      assert.ok(line.MeanConfidence > 0 && line.MeanConfidence <= 1);
      assert.ok(Math.abs(line.MeanConfidence - mean(confidences)) < 1e-5, `${line.MeanConfidence} vs ${mean(confidences)}`);
      assert.ok(line.LatencyP99 > 0);
      assert.ok(Math.abs(line.MaxFeatureDriftPsi - psi) < 1e-9);

      // An idle interval still reports the loaded version, with zero requests.
      await app.flushMetrics();
      const idle = log.lines.filter((l) => l.msg === 'emf')[1]!;
      assert.equal(idle.Requests, 0);
      assert.equal(idle.Errors, 0);
      assert.equal(idle.MeanConfidence, undefined);
      assert.equal(idle.LatencyP99, undefined);
      assert.deepEqual(
        idle._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name),
        ['Requests', 'Errors', 'Predictions', 'LowConfidencePredictions', 'MaxFeatureDriftPsi'],
      );
    } finally {
      await app.close();
    }
  });

  test('production and candidate: one line per version, each with its Version and its own values', async () => {
    // GIVEN a local store with production and a 50% candidate
    const root = mkdtempSync(join(tmpdir(), 'serving-emf-versions-'));
    const v2 = 'emf-candidate';
    for (const [version, files] of [[VERSION, bundleFiles()], [v2, bundleFiles(v2)]] as const) {
      mkdirSync(join(root, versionDir(version)), { recursive: true });
      for (const [name, body] of Object.entries(files)) writeFileSync(join(root, versionDir(version), name), body);
    }
    mkdirSync(join(root, 'aliases'));
    writeFileSync(join(root, aliasFile('production')), JSON.stringify({ version: VERSION }));
    writeFileSync(join(root, aliasFile('candidate')), JSON.stringify({ version: v2, traffic_percent: 50 }));
    const log = captured();
    const { app, url } = await listen({ ...CONTRACT_ENV, SERVING_MODEL_SOURCE: root }, { logger: log.logger });
    try {
      // WHEN requests with distinct keys split over both versions
      const answered = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const r = await predictOnce(url, { 'x-request-key': `user-${i}` });
        answered.set(r.version!, (answered.get(r.version!) ?? 0) + 1);
      }
      await app.flushMetrics();
      // THEN one EMF line per version, under both sets, with that version's request count
      const emf = log.lines.filter((l) => l.msg === 'emf');
      assert.deepEqual(emf.map((l) => l.Version).sort(), [VERSION, v2].sort());
      for (const line of emf) {
        assert.deepEqual(line._aws.CloudWatchMetrics[0].Dimensions, [['Team', 'Stage', 'Model'], ['Team', 'Stage', 'Model', 'Version']]);
        assert.equal(line.Requests, answered.get(line.Version), line.Version);
        for (const name of ['Requests', 'LatencyP99', 'MeanConfidence']) assert.ok(Number(line[name]) > 0, `${line.Version} ${name}`);
      }
    } finally {
      await app.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('without SERVING_TEAM / SERVING_STAGE the sets fall back to [Model] and [Model, Version]; SERVING_MODEL_NAME names the model', async () => {
    const log = captured();
    const { app, url } = await listen({ SERVING_EMF: 'true', SERVING_EMF_INTERVAL_S: '3600', SERVING_MODEL_NAME: 'churn-eu' }, { logger: log.logger });
    try {
      assert.equal((await predictOnce(url)).status, 200);
      await app.close();
      const line = log.lines.find((l) => l.msg === 'emf')!; // flushed by close()
      assert.deepEqual(line._aws.CloudWatchMetrics[0].Dimensions, [['Model'], ['Model', 'Version']]);
      assert.equal(line.Model, 'churn-eu');
      assert.equal(line.Team, undefined);
      assert.equal(line.Requests, 1);
      assert.ok(log.lines.some((l) => l.level === 40 && /SERVING_MODEL_NAME differs/.test(l.msg)));
    } finally {
      await app.close();
    }
  });
});

describe('reporter and PutMetricData sink (unit)', () => {
  const silent = { warn() {}, info() {} } as unknown as FastifyBaseLogger;

  test('Errors count status >= 500; a request without a version gets only the [Team, Stage, Model] set', async () => {
    const published: MetricGroup[] = [];
    const sink = { name: 'stdout' as const, publish: async (_: string, g: MetricGroup[]) => void published.push(...g), abort() {}, destroy() {} };
    const r = new EmfReporter({ namespace: NAMESPACE, intervalMs: 3600e3, closeTimeoutMs: 1000, team: 't', stage: 's' }, sink, silent, () => []);
    const ok = { error: false, instances: 1, lowConfidence: 0, confidenceSum: 0.9, confidenceCount: 1 };
    for (let i = 1; i <= 100; i++) r.record('m', 'v1', { ...ok, latencyMs: i });
    r.record('m', 'v1', { ...ok, latencyMs: 1000, error: true, instances: 0, confidenceSum: 0, confidenceCount: 0 });
    r.record('m', '', { ...ok, latencyMs: 1, error: true, instances: 0, confidenceSum: 0, confidenceCount: 0 });
    await r.close();
    const v1 = published.find((g) => g.dimensions.Version === 'v1')!;
    const value = (g: MetricGroup, name: string) => g.metrics.find((m) => m.name === name)?.value;
    assert.equal(value(v1, 'Requests'), 101);
    assert.equal(value(v1, 'Errors'), 1);
    assert.equal(value(v1, 'LatencyP99'), 100); // 100th of 101 sorted latencies
    assert.equal(value(v1, 'MeanConfidence'), 0.9);
    const none = published.find((g) => g.dimensions.Version === undefined)!;
    assert.deepEqual(none.dimensionSets, [['Team', 'Stage', 'Model']]);
    assert.equal(value(none, 'Errors'), 1);
    assert.equal(value(none, 'MeanConfidence'), undefined);
  });

  test('PutMetricData batches of at most 1000 datums, one call in flight', async () => {
    const calls: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const client = {
      async send(cmd: PutMetricDataCommand) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        calls.push(cmd.input.MetricData!.length);
        inFlight--;
      },
      destroy() {},
    } as unknown as CloudWatchClient;
    const sink = new CloudWatchSink(silent, { inc() {} }, client);
    const groups: MetricGroup[] = Array.from({ length: 150 }, (_, i) => ({
      timestamp: Date.now(),
      dimensions: { Model: 'm', Version: `v${i}` },
      dimensionSets: [['Model'], ['Model', 'Version']],
      metrics: [1, 2, 3, 4, 5, 6, 7].map((n) => ({ name: `M${n}`, unit: 'Count' as const, value: n })),
    }));
    await Promise.all([sink.publish(NAMESPACE, groups), sink.publish(NAMESPACE, groups)]); // 2 × 2100 datums
    assert.deepEqual(calls, [MAX_DATUMS_PER_CALL, MAX_DATUMS_PER_CALL, MAX_DATUMS_PER_CALL, MAX_DATUMS_PER_CALL, 200]);
    assert.equal(maxInFlight, 1);
  });
});

describe('SERVING_EMF_SINK=cloudwatch failures (delivery to moto: s3.test.ts)', () => {
  test('a failing endpoint is counted and logged; requests still succeed', async () => {
    const closed = await freePort();
    const log = captured();
    const { app, url } = await listen({ ...CONTRACT_ENV, SERVING_EMF_SINK: 'cloudwatch' }, { cloudwatch: cloudWatchClient(`http://127.0.0.1:${closed}`), logger: log.logger });
    try {
      assert.equal((await predictOnce(url)).status, 200);
      const [flushed, during] = await Promise.all([app.flushMetrics(), predictOnce(url)]);
      assert.equal(flushed, undefined);
      assert.equal(during.status, 200);
      assert.equal((await predictOnce(url)).status, 200);
      const text = await (await fetch(`${url}/metrics`)).text();
      assert.match(text, /^metrics_publish_failures_total\{sink="cloudwatch",reason="error"\} 1$/m);
      assert.ok(log.lines.some((l) => l.level === 40 && l.msg === 'metrics: PutMetricData failed; values dropped'));
    } finally {
      await app.close();
    }
  });

  test('a hanging endpoint: one call in flight, and close() gives up after SERVING_EMF_CLOSE_TIMEOUT_MS', async () => {
    const sockets: Socket[] = [];
    let requests = 0;
    const hang = createServer((s) => {
      sockets.push(s);
      s.on('data', (d) => {
        if (d.toString('latin1').startsWith('POST ')) requests++;
      });
    });
    hang.listen(0, '127.0.0.1');
    await once(hang, 'listening');
    const port = (hang.address() as { port: number }).port;
    const log = captured();
    const { app, url } = await listen(
      { ...CONTRACT_ENV, SERVING_EMF_SINK: 'cloudwatch', SERVING_EMF_CLOSE_TIMEOUT_MS: '200' },
      { cloudwatch: cloudWatchClient(`http://127.0.0.1:${port}`), logger: log.logger },
    );
    try {
      assert.equal((await predictOnce(url)).status, 200);
      void app.flushMetrics();
      await waitFor('the first PutMetricData call', () => requests === 1);
      assert.equal((await predictOnce(url)).status, 200);
      void app.flushMetrics(); // queued behind the first call, not a second connection
      assert.equal((await predictOnce(url)).status, 200);
      const started = Date.now();
      await app.close();
      assert.ok(Date.now() - started < 4000, 'close is bounded by the timeout, not the SDK request timeout');
      assert.equal(requests, 1);
      assert.ok(log.lines.some((l) => l.level === 40 && /did not finish before the shutdown deadline/.test(l.msg)));
    } finally {
      await app.close();
      for (const s of sockets) s.destroy();
      hang.close();
    }
  });
});
