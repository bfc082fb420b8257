import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BundleError, LoadedModel, loadBundleDir, parseManifest, predictInstances } from '../src/index';
import { MicroBatcher } from '../src/batcher';
import { bucketOf, DriftMonitor, psi } from '../src/drift';
import { bundleFiles, FIXTURE, golden, manifest } from './helpers';

const loaded: LoadedModel[] = [];
after(async () => Promise.all(loaded.map((m) => m.release())));

function filesOf(files: Record<string, string | Buffer>) {
  return {
    manifest: Buffer.from(files['manifest.json']!),
    model: Buffer.from(files['model.onnx']!),
    golden: Buffer.from(files['golden.json']!),
  };
}

describe('fixture bundle: golden vectors', () => {
  test('every golden case reproduces: preprocessed vector and output, within atol', async () => {
    const model = await loadBundleDir(FIXTURE);
    loaded.push(model);
    assert.ok(golden.cases.length >= 16);
    const enc = model.preprocessor.encode(golden.cases.map((c: any) => c.instance));
    assert.equal(enc.errors, null);
    const preds = await predictInstances(model, golden.cases.map((c: any) => c.instance));
    golden.cases.forEach((c: any, n: number) => {
      c.features.forEach((v: number, j: number) =>
        assert.ok(Math.abs(enc.data![n * model.preprocessor.dim + j]! - v) <= golden.atol, `case ${n} feature ${j}`),
      );
      const probs = Object.values(preds[n]!.probabilities!);
      c.output.forEach((v: number, j: number) => assert.ok(Math.abs(probs[j]! - v) <= golden.atol, `case ${n} output ${j}`));
      const best = c.output.indexOf(Math.max(...c.output));
      assert.equal(preds[n]!.label, manifest.output.labels[best]);
      assert.equal(preds[n]!.confidence, Math.max(...probs));
    });
  });

  test('the fixture covers missing optionals, explicit nulls and an ignored unknown category', () => {
    const instances = golden.cases.map((c: any) => c.instance);
    assert.ok(instances.some((i: any) => !('tenure_months' in i)));
    assert.ok(instances.some((i: any) => i.region === null));
    assert.ok(instances.some((i: any) => i.region === 'mars'));
  });
});

describe('bundle verification refuses bad bundles', () => {
  const cases: Array<[string, Record<string, string | Buffer>, RegExp, string]> = [
    ['sha256 mismatch', { ...bundleFiles(), 'model.onnx': Buffer.concat([readFileSync(join(FIXTURE, 'model.onnx')), Buffer.from([0])]) }, /sha256 is [0-9a-f]{64}, manifest says/, 'sha256'],
    ['golden output mismatch', bundleFiles(undefined, (_m, g) => (g.cases[3].output[1] += 0.01)), /golden case 3: output\[1\]/, 'golden'],
    ['golden feature mismatch', bundleFiles(undefined, (_m, g) => (g.cases[0].features[0] += 1)), /golden case 0: features\[0\]/, 'golden'],
    ['unknown manifest key', bundleFiles(undefined, (m) => (m.features[0].scale = 2)), /features\.0: Unrecognized key/i, 'manifest'],
    ['input_dim disagrees with features', bundleFiles(undefined, (m) => (m.model.input_dim = 11)), /input_dim is 11 but the features encode to 10/, 'manifest'],
    ['optional feature without impute', bundleFiles(undefined, (m) => (m.features[0].impute = null)), /optional feature needs a numeric impute/, 'manifest'],
    ['impute outside vocabulary', bundleFiles(undefined, (m) => (m.features[5].impute = 'mars')), /impute that is a vocabulary entry/, 'manifest'],
    ['bad name', bundleFiles(undefined, (m) => (m.name = 'Churn!')), /name: must match/, 'manifest'],
    ['wrong output name', bundleFiles(undefined, (m) => (m.model.output_name = 'probs')), /no output "probs"/, 'onnx'],
    ['not JSON', { ...bundleFiles(), 'manifest.json': '{nope' }, /manifest.json: not valid JSON/, 'manifest'],
  ];
  for (const [what, files, message, reason] of cases)
    test(`fails on ${what}`, async () => {
      await assert.rejects(LoadedModel.load(filesOf(files)), (e: unknown) => {
        assert.ok(e instanceof BundleError, String(e));
        assert.match(e.message, message);
        assert.equal(e.reason, reason);
        return true;
      });
    });

  test('parseManifest accepts the fixture and the documented example shape', () => {
    assert.equal(parseManifest(manifest).features.length, 6);
  });

  test('loadBundleDir names the missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serving-bundle-'));
    try {
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      await assert.rejects(loadBundleDir(dir), /model.onnx and golden.json: not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('drift', () => {
  test('bucket rule: edges[i-1] < v <= edges[i]', () => {
    const edges = [1, 2, 3];
    assert.deepEqual([0, 1, 1.5, 2, 2.5, 3, 4].map((v) => bucketOf(edges, v)), [0, 0, 1, 1, 2, 2, 3]);
  });

  test('PSI is 0 for identical distributions and floors zero fractions at 1e-4', () => {
    assert.equal(psi([0.5, 0.5], [0.5, 0.5]), 0);
    const expected = (0.9 - 0.5) * Math.log(0.9 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
    assert.ok(Math.abs(psi([0.9, 0, 0.1], [0.5, 0.5, 0]) - expected) < 1e-12);
  });

  test('live values drawn like the reference give low PSI; a shifted feature gives high PSI', () => {
    const d = new DriftMonitor(parseManifest(manifest), { window: 500, minSamples: 100 });
    assert.deepEqual(d.snapshot(), []);
    const plans = ['basic', 'pro', 'enterprise'];
    for (let i = 0; i < 500; i++)
      d.observeInstance({ plan: plans[i % 20 < 10 ? 0 : i % 20 < 17 ? 1 : 2], tenure_months: 400 + i });
    const byName = Object.fromEntries(d.snapshot().map((s) => [s.feature, s.psi]));
    assert.ok(byName.plan! < 0.01, `plan PSI ${byName.plan}`);
    assert.ok(byName.tenure_months! > 1, `tenure PSI ${byName.tenure_months}`);
  });
});

describe('micro-batching', () => {
  test('requests queued in one event-loop turn share ONNX runs (up to maxRows), each gets its own rows', async () => {
    const model = await loadBundleDir(FIXTURE);
    loaded.push(model);
    const batches: number[] = [];
    const batcher = new MicroBatcher(model, { maxRows: 8, maxWaitMs: 0 }, (rows) => batches.push(rows));
    const cases = golden.cases.slice(0, 10);
    const inputs = cases.map((c: any) => model.preprocessor.encode([c.instance]).data!);
    const results = await Promise.all(inputs.map((x: Float32Array) => batcher.predict(x, 1)));
    assert.deepEqual(batches, [8, 2]);
    results.forEach((r, n) => {
      const probs = r.output.subarray(r.offset * 2, r.offset * 2 + 2);
      cases[n].output.forEach((v: number, j: number) => assert.ok(Math.abs(probs[j]! - v) <= golden.atol));
    });
    await batcher.idle();
  });
});
