import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { aliasFile, versionDir } from '../src/store/layout';
import { buildApp } from '../src/app';
import { bundleFiles, config, instance, VERSION } from './helpers';

/**
 * A model store that has no servable model yet (first deploy): the service starts live but
 * not ready, says once why and what to do, and serves as soon as a good production version is
 * published, without a restart. Polls are driven with registry.sync() (the interval is an
 * hour), so the test counts log lines per poll without waiting on a timer. The real process on
 * an S3 store (moto) and its own poll timer are in s3.test.ts.
 */
describe('a store with no model yet (local folder)', () => {
  let root: string;
  let app: FastifyInstance;
  const lines: Array<Record<string, any>> = [];
  const logger = { level: 'info', stream: { write: (l: string) => void lines.push(JSON.parse(l)) } };

  const publish = (version: string, files: Record<string, string | Buffer>) => {
    const dir = join(root, versionDir(version));
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  };
  const promote = (body: string) => {
    mkdirSync(join(root, 'aliases'), { recursive: true });
    writeFileSync(join(root, aliasFile('production')), body);
  };
  const inject = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const r = await app.inject({ method, url, payload });
    return { status: r.statusCode, body: r.json() };
  };
  const ready = () => inject('GET', '/v2/health/ready');
  /** Log lines whose message is exactly `msg`. */
  const logged = (msg: string) => lines.filter((l) => l.msg === msg).length;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'serving-empty-'));
    app = await buildApp({ config: config({ SERVING_MODEL_SOURCE: root, SERVING_TEAM: 'fraud', SERVING_STAGE: 'dev', SERVING_MODEL_NAME: 'churn-store', LOG_LEVEL: 'info' }), logger });
  });
  after(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('live, not ready: the ready body says where it looks and how to publish; logged once over many polls', async () => {
    assert.deepEqual(await inject('GET', '/v2/health/live'), { status: 200, body: { live: true } });
    const r = await ready();
    assert.equal(r.status, 503);
    assert.deepEqual(Object.keys(r.body).sort(), ['message', 'ready', 'reason']);
    assert.equal(r.body.ready, false);
    assert.equal(r.body.reason, 'no_model');
    assert.equal(
      r.body.message,
      `no model to serve yet: ${root}/aliases/production.json does not exist; publish a model and promote it: ` +
        'npm run model -- publish <training job | s3://.../model.tar.gz | bundle folder> --team fraud --stage dev, ' +
        'then npm run model -- promote <version> --team fraud --stage dev',
    );
    for (let i = 0; i < 5; i++) await app.registry.sync();
    assert.equal(logged(r.body.message), 1, 'the sentence is logged once, not per poll');
    assert.equal(lines.find((l) => l.msg === r.body.message)!.level, 40);
    assert.deepEqual((await ready()).body, r.body);
  });

  test('inference and model ready routes answer 503 model_not_ready with the reason', async () => {
    const notReady = (await ready()).body;
    for (const [method, url, payload] of [
      ['POST', '/v1/models/churn:predict', { instances: [instance] }],
      ['POST', '/v2/models/churn/infer', { inputs: [{ name: 'input', shape: [1, 10], datatype: 'FP32', data: Array(10).fill(0) }] }],
      ['GET', '/v2/models/churn/ready', undefined],
      ['GET', '/v2/models/churn', undefined],
    ] as const) {
      const r = await inject(method, url, payload);
      assert.equal(r.status, 503, url);
      assert.equal(r.body.code, 'model_not_ready', url);
      assert.equal(r.body.reason, 'no_model', url);
      assert.equal(r.body.error, notReady.message, url);
      assert.equal(typeof r.body.request_id, 'string');
    }
  });

  test('an invalid alias, then a refused version: still not ready, each reason logged once and counted', async () => {
    promote('{"version": ');
    for (let i = 0; i < 3; i++) await app.registry.sync();
    const invalid = await ready();
    assert.equal(invalid.status, 503);
    assert.equal(invalid.body.reason, 'alias_invalid');
    assert.match(invalid.body.message, new RegExp(`^no model to serve yet: ${root}/aliases/production.json: not valid JSON; publish a model`));
    assert.equal(logged(invalid.body.message), 1);

    publish('broken', bundleFiles('broken', (_m, g) => (g.cases[0].output[1] += 0.01)));
    promote(JSON.stringify({ version: 'broken' }));
    for (let i = 0; i < 3; i++) await app.registry.sync();
    const refused = await ready();
    assert.equal(refused.status, 503);
    assert.equal(refused.body.reason, 'model_refused');
    assert.match(refused.body.message, /^no model to serve yet: version broken named by .*\/aliases\/production\.json was refused: golden case 0: output\[1\]/);
    assert.equal(logged(refused.body.message), 1);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /model_load_failures_total\{model="",version="",alias="production",reason="alias"\} 3/);
    assert.match(metrics, /model_load_failures_total\{model="",version="broken",alias="production",reason="golden"\} 1/);
  });

  test('a good version promoted: ready at the next poll, no restart, and it serves (its name checked against SERVING_MODEL_NAME)', async () => {
    publish(VERSION, bundleFiles());
    promote(JSON.stringify({ version: VERSION }));
    await app.registry.sync();
    assert.deepEqual(await ready(), { status: 200, body: { ready: true } });
    const p = await inject('POST', '/v1/models/churn:predict', { instances: [instance] });
    assert.equal(p.status, 200);
    assert.equal(p.body.model_version, VERSION);
    assert.ok(lines.some((l) => l.msg === 'production model loaded: ready' && l.version === VERSION));
    // SERVING_MODEL_NAME is checked against the first model, however late it comes.
    assert.ok(lines.some((l) => l.level === 40 && /^SERVING_MODEL_NAME differs/.test(l.msg) && l.metric_model === 'churn-store'));
  });
});
