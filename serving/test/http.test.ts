import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bundleFiles, instance, listen, post, predictOnce, VERSION } from './helpers';

const ok = { ...instance };
const without = (k: string) => Object.fromEntries(Object.entries(ok).filter(([key]) => key !== k));

/** [what, path, body (object or raw string), content-type, status, code, message] */
type Case = [string, string, unknown, string | null, number, string, RegExp];
const P = '/v1/models/churn:predict';
const I = '/v2/models/churn/infer';
const F = '/v1/models/churn:feedback';
const JSON_CT = 'application/json';

const BAD: Case[] = [
  ['unknown feature', P, { instances: [{ ...ok, colour: 'red' }] }, JSON_CT, 422, 'unknown_feature', /^instances\[0\]\.colour: is not a feature of this model$/],
  ['missing required numeric', P, { instances: [without('monthly_charges')] }, JSON_CT, 422, 'missing_required', /^instances\[0\]\.monthly_charges: is required$/],
  ['missing required categorical', P, { instances: [without('plan')] }, JSON_CT, 422, 'missing_required', /^instances\[0\]\.plan: is required$/],
  ['null for a required feature', P, { instances: [{ ...ok, plan: null }] }, JSON_CT, 422, 'missing_required', /^instances\[0\]\.plan: is required$/],
  ['numeric string', P, { instances: [{ ...ok, age: '40' }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.age: must be a finite number, got "40"$/],
  ['boolean for numeric', P, { instances: [{ ...ok, age: true }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.age: must be a finite number, got true$/],
  ['array for numeric', P, { instances: [{ ...ok, monthly_charges: [1] }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.monthly_charges: must be a finite number, got \[1\]$/],
  ['number for categorical', P, { instances: [{ ...ok, plan: 1 }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.plan: must be a string, got 1$/],
  ['object for categorical', P, { instances: [{ ...ok, region: { a: 1 } }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.region: must be a string/],
  ['below min', P, { instances: [{ ...ok, age: 17 }] }, JSON_CT, 422, 'out_of_range', /^instances\[0\]\.age: must be within \[18, 120\], got 17$/],
  ['above max', P, { instances: [{ ...ok, tenure_months: 241 }] }, JSON_CT, 422, 'out_of_range', /^instances\[0\]\.tenure_months: must be within \[0, 240\], got 241$/],
  ['negative with open max', P, { instances: [{ ...ok, support_calls: -1 }] }, JSON_CT, 422, 'out_of_range', /^instances\[0\]\.support_calls: must be within \[0, inf\], got -1$/],
  ['unknown category (unknown: error)', P, { instances: [{ ...ok, plan: 'gold' }] }, JSON_CT, 422, 'unknown_category', /^instances\[0\]\.plan: unknown category "gold"; expected one of: basic, pro, enterprise$/],
  ['error in a later instance names its index', P, { instances: [ok, ok, { ...ok, age: 500 }] }, JSON_CT, 422, 'out_of_range', /^instances\[2\]\.age: /],
  ['several errors are all reported', P, { instances: [{ ...ok, age: 'x' }, { ...ok, plan: 'x' }] }, JSON_CT, 422, 'wrong_type', /^instances\[0\]\.age: .* \(and 1 more\)$/],
  ['instance not an object', P, { instances: [42] }, JSON_CT, 422, 'not_an_object', /^instances\[0\]: must be an object of named features$/],
  ['instance is an array', P, { instances: [[1, 2]] }, JSON_CT, 422, 'not_an_object', /^instances\[0\]: must be an object/],
  ['empty batch', P, { instances: [] }, JSON_CT, 400, 'empty_batch', /^instances: must contain at least 1 instance$/],
  ['oversized batch', P, { instances: Array(257).fill(ok) }, JSON_CT, 413, 'batch_too_large', /^instances: 257 instances, at most 256 per request$/],
  ['instances missing', P, { rows: [ok] }, JSON_CT, 400, 'invalid_request', /^body: missing property "instances"$/],
  ['unknown top-level property', P, { instances: [ok], explain: true }, JSON_CT, 400, 'invalid_request', /^body: unknown property "explain"$/],
  ['instances not an array', P, { instances: ok }, JSON_CT, 400, 'invalid_request', /^body\.instances: must be array$/],
  ['body is an array', P, [ok], JSON_CT, 400, 'invalid_request', /^body: must be object$/],
  ['malformed JSON', P, '{"instances": [', JSON_CT, 400, 'malformed_json', /^the body is not valid JSON$/],
  ['empty body', P, '', JSON_CT, 400, 'empty_body', /^the JSON body is empty$/],
  ['wrong content type', P, JSON.stringify({ instances: [ok] }), 'text/plain', 415, 'unsupported_media_type', /^content-type must be application\/json$/],
  ['form content type', P, 'a=1', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type', /content-type must be application\/json/],
  ['body too large', P, JSON.stringify({ instances: [ok], pad: 'x'.repeat(1024 * 1024) }), JSON_CT, 413, 'body_too_large', /^request body is larger than 1048576 bytes$/],
  ['prototype pollution', P, '{"instances":[{"__proto__":{"x":1}}]}', JSON_CT, 400, 'malformed_json', /not valid JSON/],
  ['unknown model', '/v1/models/fraud:predict', { instances: [ok] }, JSON_CT, 404, 'model_not_found', /^model "fraud" is not served here \(this service serves "churn"\)$/],
  ['unknown verb', '/v1/models/churn:explain', { instances: [ok] }, JSON_CT, 404, 'not_found', /^no route POST \/v1\/models\/churn:explain$/],
  ['v2: unknown input', I, { inputs: [{ name: 'colour', shape: [1], datatype: 'BYTES', data: ['red'] }] }, JSON_CT, 400, 'unknown_feature', /^inputs\[0\] \(colour\): not a feature of this model/],
  ['v2: wrong datatype for categorical', I, { inputs: [{ name: 'plan', shape: [1], datatype: 'FP32', data: [1] }] }, JSON_CT, 400, 'wrong_datatype', /^inputs\[0\] \(plan\): datatype must be BYTES, got FP32$/],
  ['v2: shape/data mismatch', I, { inputs: [{ name: 'plan', shape: [2], datatype: 'BYTES', data: ['pro'] }] }, JSON_CT, 400, 'wrong_shape', /needs 2 values, got 1$/],
  ['v2: inconsistent batch dims', I, { inputs: [{ name: 'plan', shape: [1], datatype: 'BYTES', data: ['pro'] }, { name: 'monthly_charges', shape: [2], datatype: 'FP64', data: [1, 2] }] }, JSON_CT, 400, 'wrong_shape', /^inputs\[1\] \(monthly_charges\): batch dimension 2 differs from the first input's 1$/],
  ['v2: missing required feature', I, { inputs: [{ name: 'plan', shape: [1], datatype: 'BYTES', data: ['pro'] }] }, JSON_CT, 422, 'missing_required', /^instances\[0\]\.monthly_charges: is required$/],
  ['v2: out of range in row 1', I, { inputs: [{ name: 'plan', shape: [2], datatype: 'BYTES', data: ['pro', 'pro'] }, { name: 'monthly_charges', shape: [2], datatype: 'FP64', data: [1, 2000] }] }, JSON_CT, 422, 'out_of_range', /^instances\[1\]\.monthly_charges: must be within \[0, 1000\], got 2000$/],
  ['v2: tensor wrong width', I, { inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, JSON_CT, 400, 'wrong_shape', /^inputs\[0\] \(input\): shape must be \[N, 10\], got \[1, 3\]$/],
  ['v2: tensor non-number', I, { inputs: [{ name: 'input', shape: [1, 10], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 'x'] }] }, JSON_CT, 400, 'wrong_type', /data\[9\] \(instance 0\) must be a finite number$/],
  ['v2: unknown datatype', I, { inputs: [{ name: 'plan', shape: [1], datatype: 'STRING', data: ['pro'] }] }, JSON_CT, 400, 'invalid_request', /^body\.inputs\.0\.datatype: must be equal to one of the allowed values$/],
  ['v2: no inputs', I, { inputs: [] }, JSON_CT, 400, 'invalid_request', /^body\.inputs: must NOT have fewer than 1 items$/],
  ['v2: unknown output requested', I, { inputs: [{ name: 'input', shape: [1, 10], datatype: 'FP32', data: Array(10).fill(0) }], outputs: [{ name: 'logits' }] }, JSON_CT, 400, 'unknown_output', /^outputs: "logits" is not an output of this model$/],
  ['v2: unknown version', '/v2/models/churn/versions/nope/infer', { inputs: [{ name: 'input', shape: [1, 10], datatype: 'FP32', data: Array(10).fill(0) }] }, JSON_CT, 404, 'version_not_found', /^version "nope" of model "churn" is not loaded$/],
  ['feedback: missing actual', F, { prediction_id: 'x' }, JSON_CT, 400, 'invalid_request', /^body: missing property "actual"$/],
  ['feedback: actual wrong type', F, { prediction_id: 'x', actual: [1] }, JSON_CT, 400, 'invalid_request', /^body\.actual: must be string,number$/],
];

describe('bad requests: 4xx naming the field and instance, never a 500 or a stack trace', () => {
  let app: FastifyInstance;
  let url: string;
  before(async () => ({ app, url } = await listen()));
  after(async () => app.close());

  for (const [what, path, body, ct, status, code, message] of BAD)
    test(`${status} ${code}: ${what}`, async () => {
      const res = await fetch(url + path, {
        method: 'POST',
        headers: ct ? { 'content-type': ct } : {},
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, status, text);
      const json = JSON.parse(text);
      assert.equal(json.code, code, text);
      assert.match(json.error, message);
      assert.ok(json.request_id);
      assert.equal(res.headers.get('x-request-id'), json.request_id);
      assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node_modules|\.ts:\d+/, 'no stack trace');
      if (json.details) for (const d of json.details) assert.equal(typeof d.instance, 'number');
    });
});

describe('happy paths, headers and docs', () => {
  let app: FastifyInstance;
  let url: string;
  before(async () => ({ app, url } = await listen()));
  after(async () => app.close());

  test('predict: single and batch, with ids, version header and body field', async () => {
    const res = await post(`${url}${P}`, { instances: [ok, { monthly_charges: 20, plan: 'basic', region: 'mars' }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.model_version, VERSION);
    assert.equal(res.headers.get('x-model-version'), VERSION);
    assert.equal(res.body.predictions.length, 2);
    const p = res.body.predictions[0];
    assert.deepEqual(Object.keys(p.probabilities), ['stay', 'churn']);
    assert.ok(Math.abs(p.probabilities.stay + p.probabilities.churn - 1) < 1e-5);
    assert.equal(p.confidence, Math.max(p.probabilities.stay, p.probabilities.churn));
    assert.equal(p.id, `${res.body.request_id}.0`);
  });

  test('x-request-id is honoured when well-formed and replaced when not', async () => {
    const a = await post(`${url}${P}`, { instances: [ok] }, { 'x-request-id': 'abc-123' });
    assert.equal(a.headers.get('x-request-id'), 'abc-123');
    assert.equal(a.body.request_id, 'abc-123');
    const b = await post(`${url}${P}`, { instances: [ok] }, { 'x-request-id': 'bad id with spaces' });
    assert.match(b.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  });

  test('v2 infer: per-feature tensors and the preprocessed tensor give the same probabilities', async () => {
    const byFeature = await post(`${url}${I}`, {
      id: 'req-1',
      inputs: [
        { name: 'monthly_charges', shape: [1], datatype: 'FP64', data: [80.5] },
        { name: 'plan', shape: [1, 1], datatype: 'BYTES', data: [['pro']] },
      ],
    });
    assert.equal(byFeature.status, 200, JSON.stringify(byFeature.body));
    assert.equal(byFeature.body.id, 'req-1');
    assert.equal(byFeature.body.model_version, VERSION);
    const [probs, labels] = byFeature.body.outputs;
    assert.deepEqual(probs.shape, [1, 2]);
    assert.deepEqual(labels, { name: 'label', datatype: 'BYTES', shape: [1], data: [probs.data[0] >= probs.data[1] ? 'stay' : 'churn'] });
    const v1 = await post(`${url}${P}`, { instances: [{ monthly_charges: 80.5, plan: 'pro' }] });
    assert.ok(Math.abs(v1.body.predictions[0].probabilities.churn - probs.data[1]) < 1e-7);
  });

  test('v2 metadata, model ready, server live/ready', async () => {
    const meta = (await (await fetch(`${url}/v2/models/churn`)).json()) as any;
    assert.equal(meta.name, 'churn');
    assert.deepEqual(meta.versions, [VERSION]);
    assert.equal(meta.inputs.length, 6);
    assert.deepEqual((await (await fetch(`${url}/v2/models/churn/ready`)).json()), { name: 'churn', ready: true });
    assert.equal((await fetch(`${url}/v2/models/churn/versions/${VERSION}/ready`)).status, 200);
    assert.deepEqual(await (await fetch(`${url}/v2/health/live`)).json(), { live: true });
    const ready = await fetch(`${url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.headers.get('x-model-version'), VERSION);
  });

  test('feedback matches a prediction and feeds live accuracy', async () => {
    const pred = await post(`${url}${P}`, { instances: [ok] });
    const p = pred.body.predictions[0];
    const fb = await post(`${url}${F}`, { prediction_id: p.id, actual: p.label });
    assert.equal(fb.status, 202);
    assert.deepEqual(fb.body.matched, true);
    assert.equal(fb.body.correct, true);
    const unmatched = await post(`${url}${F}`, { prediction_id: 'never-seen', actual: 'stay' });
    assert.equal(unmatched.body.matched, false);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, new RegExp(`prediction_live_accuracy\\{model="churn",version="${VERSION}"\\} 1`));
    assert.match(metrics, /prediction_feedback_total\{model="churn",version="",result="unmatched"\} 1/);
  });

  test('/metrics has the prediction, latency, error, confidence, load, drift and traffic series, labelled by model version', async () => {
    for (let i = 0; i < 3; i++) await post(`${url}${P}`, { instances: Array(50).fill(ok) });
    const text = await (await fetch(`${url}/metrics`)).text();
    const v = `model="churn",version="${VERSION}"`;
    for (const re of [
      new RegExp(`predictions_total\\{${v},alias="production"\\} \\d+`),
      new RegExp(`prediction_duration_seconds_bucket\\{le="0.005",${v},endpoint="predict"\\}`),
      /active_requests 0/,
      // No request failed: the error counters exist, with no series yet.
      /^# TYPE prediction_errors_total counter$/m,
      new RegExp(`prediction_confidence_count\\{${v}\\} \\d+`),
      /^# TYPE model_load_failures_total counter$/m,
      new RegExp(`model_loads_total\\{${v},alias="production"\\} 1`),
      new RegExp(`feature_drift_psi\\{${v},feature="plan"\\} \\d`),
      new RegExp(`feature_drift_psi\\{${v},feature="__prediction__"\\} \\d`),
      new RegExp(`model_traffic_percent\\{${v},alias="production"\\} 100`),
      /inference_batch_rows_bucket/,
    ])
      assert.match(text, re);
  });

  test('/openapi.json documents the health, metadata, infer, predict, feedback and metrics endpoints', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as any;
    assert.equal(doc.openapi, '3.0.3');
    const paths = Object.keys(doc.paths);
    for (const p of ['/v2/health/live', '/v2/health/ready', '/v2/models/{name}', '/v2/models/{name}/ready', '/v2/models/{name}/infer', '/metrics'])
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    assert.ok(paths.some((p) => p.includes('predict')) && paths.some((p) => p.includes('feedback')), paths.join(', '));
  });
});

describe('API keys and rate limits', () => {
  const keyA = 'team-a-key-0123456789';
  const keyB = 'team-b-key-9876543210';
  let app: FastifyInstance;
  let url: string;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-keys-'));
    const { createHash } = await import('node:crypto');
    writeFileSync(join(dir, 'keys'), `# team B, stored hashed\nsha256:${createHash('sha256').update(keyB).digest('hex')}\n`);
    ({ app, url } = await listen({
      SERVING_API_KEYS: keyA,
      SERVING_API_KEYS_FILE: join(dir, 'keys'),
      SERVING_RATE_LIMIT_RPS: '0.001',
      SERVING_RATE_LIMIT_BURST: '3',
    }));
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('401 without a key or with a wrong one; health and metrics stay open', async () => {
    const none = await post(`${url}${P}`, { instances: [ok] });
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'unauthorized');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await post(`${url}${P}`, { instances: [ok] }, { authorization: 'Bearer team-a-key-0123456780' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'the API key is not valid');
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
    assert.equal((await fetch(`${url}/metrics`)).status, 200);
  });

  test('keys from env (raw) and file (hashed) both work, via Bearer or x-api-key; 429 per key after the burst', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await post(`${url}${P}`, { instances: [ok] }, { authorization: `Bearer ${keyA}` })).status, 200);
    const limited = await post(`${url}${P}`, { instances: [ok] }, { authorization: `Bearer ${keyA}` });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await post(`${url}${P}`, { instances: [ok] }, { 'x-api-key': keyB })).status, 200, 'other key unaffected');
  });
});

describe('a local model store folder (aliases + versions), as the trainer writes it', () => {
  test('serves the production alias and follows it to a new version', async () => {
    const root = mkdtempSync(join(tmpdir(), 'serving-store-'));
    const write = (version: string) => {
      mkdirSync(join(root, 'versions', version), { recursive: true });
      for (const [name, body] of Object.entries(bundleFiles(version))) writeFileSync(join(root, 'versions', version, name), body);
    };
    try {
      write(VERSION);
      mkdirSync(join(root, 'aliases'));
      writeFileSync(join(root, 'aliases', 'production.json'), JSON.stringify({ version: VERSION }));
      const { app, url } = await listen({ SERVING_MODEL_SOURCE: root });
      try {
        assert.deepEqual(await predictOnce(url), { status: 200, version: VERSION });
        write('local-2');
        writeFileSync(join(root, 'aliases', 'production.json'), JSON.stringify({ version: 'local-2' }));
        await app.registry.sync();
        assert.deepEqual(await predictOnce(url), { status: 200, version: 'local-2' });
      } finally {
        await app.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
