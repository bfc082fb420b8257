import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inlineRowsFor, LoadedModel } from '../src/bundle/model';
import { WorkerSessionPool } from '../src/bundle/session';
import { LocalSource, readBundle } from '../src/store/store';
import { CGROUP_CPU_FILES, cgroupCpuLimit, containerCpus, workersFor } from '../src/bundle/cpu-limit';
import { ConfigError, loadConfig } from '../src/config';
import { FIXTURE, post, waitFor } from './helpers';
import { startServer } from './process';

describe('CPU limit from the cgroup', () => {
  const cases: Array<[string, { v2Max?: string; v1Quota?: string; v1Period?: string }, number | undefined]> = [
    ['v2: two cores', { v2Max: '200000 100000\n' }, 2],
    ['v2: half a core', { v2Max: '50000 100000' }, 0.5],
    ['v2: 1.5 cores, other period', { v2Max: '75000 50000' }, 1.5],
    ['v2: no limit', { v2Max: 'max 100000\n' }, undefined],
    ['v2 wins over v1', { v2Max: '100000 100000', v1Quota: '400000', v1Period: '100000' }, 1],
    ['v1: four cores', { v1Quota: '400000\n', v1Period: '100000\n' }, 4],
    ['v1: no limit (-1)', { v1Quota: '-1', v1Period: '100000' }, undefined],
    ['v1: period missing', { v1Quota: '100000' }, undefined],
    ['garbage', { v2Max: 'lots of cpu' }, undefined],
    ['no cgroup files', {}, undefined],
  ];
  for (const [name, files, cores] of cases) test(`${name}: ${cores ?? 'no limit'}`, () => assert.equal(cgroupCpuLimit(files), cores));

  test('containerCpus rounds a limit up, caps it at the host and falls back to the host without one', () => {
    const reader = (files: Record<string, string>) => (path: string) => files[path];
    assert.equal(containerCpus(reader({ [CGROUP_CPU_FILES.v2Max]: '150000 100000' }), 64), 2);
    assert.equal(containerCpus(reader({ [CGROUP_CPU_FILES.v2Max]: '20000 100000' }), 64), 1);
    assert.equal(containerCpus(reader({ [CGROUP_CPU_FILES.v2Max]: '1600000 100000' }), 4), 4);
    assert.equal(containerCpus(reader({ [CGROUP_CPU_FILES.v1Quota]: '300000', [CGROUP_CPU_FILES.v1Period]: '100000' }), 64), 3);
    assert.equal(containerCpus(reader({}), 6), 6);
  });

  test('the pool keeps one core for the event loop and never has fewer than one worker', () => {
    assert.deepEqual([0.5, 1, 1.5, 2, 4, 16].map(workersFor), [1, 1, 1, 1, 3, 15]);
  });

  test('SERVING_INFERENCE_WORKERS: auto by default, a number, or a clear error', () => {
    assert.equal(loadConfig({ SERVING_MODEL_SOURCE: FIXTURE }).inferenceWorkers, 'auto');
    assert.equal(loadConfig({ SERVING_MODEL_SOURCE: FIXTURE, SERVING_INFERENCE_WORKERS: '3' }).inferenceWorkers, 3);
    assert.equal(loadConfig({ SERVING_MODEL_SOURCE: FIXTURE, SERVING_INFERENCE_WORKERS: '0' }).inferenceWorkers, 0);
    assert.throws(
      () => loadConfig({ SERVING_MODEL_SOURCE: FIXTURE, SERVING_INFERENCE_WORKERS: 'many' }),
      (e: Error) => e instanceof ConfigError && /SERVING_INFERENCE_WORKERS: must be auto or a whole number 0..64 \(given: "many"\)/.test(e.message),
    );
  });
});

describe('inference off the event loop (real process, heavy model)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'serving-heavy-'));
    execFileSync('/usr/bin/python3', [join(__dirname, '..', 'bench', 'make-heavy-bundle.py'), dir, '2048']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the inline row limit: rows whose estimated run fits the budget', () => {
    // budget ms, measured ms, rows measured -> rows allowed inline
    const cases: Array<[number, number, number, number]> = [
      [0.2, 0.02, 16, 160],
      [0.2, 0.2, 16, 16],
      [0.2, 48, 16, 0],
      [0.2, 3.2, 16, 1],
      [0, 0.02, 16, 0],
      [0.2, 0, 16, 3200],
    ];
    for (const [budget, ms, rows, expected] of cases) assert.equal(inlineRowsFor(budget, ms, rows), expected, `${budget} ${ms} ${rows}`);
  });

  test('only batches estimated within the inline budget stay on the event loop', async () => {
    // GIVEN the small fixture and the heavy model, each timed on a worker at load
    const small = await LoadedModel.load(await readBundle(new LocalSource(FIXTURE), ''), { workers: 1, inlineBudgetMs: 0.2 });
    const off = await LoadedModel.load(await readBundle(new LocalSource(FIXTURE), ''), { workers: 1, inlineBudgetMs: 0 });
    const big = await LoadedModel.load(await readBundle(new LocalSource(dir), ''), { workers: 1, inlineBudgetMs: 0.2 });
    try {
      // THEN the small model's small batches may run inline (two hand-offs cost more than the
      // run), a zero budget sends every batch to the worker, and the heavy model (~400x the
      // work per row) gets fewer inline rows than the small one
      assert.ok(small.inlineRows >= 1, `small: ${small.inlineRows} inline rows`);
      assert.equal(off.inlineRows, 0);
      assert.ok(big.inlineRows < small.inlineRows, `heavy: ${big.inlineRows}, small: ${small.inlineRows}`);
      assert.equal(small.concurrency, 1);
    } finally {
      await Promise.all([small.release(), off.release(), big.release()]);
    }
  });

  test('a worker that dies fails only its in-flight run and is replaced; a corrupt graph is refused', async () => {
    const files = await readBundle(new LocalSource(dir), '');
    const spec = { inputName: 'input', outputName: 'probabilities', dim: 10 };
    const pool = await WorkerSessionPool.create(files.model, spec, { workers: 1, intraOpThreads: 1 });
    try {
      const rows = 2000;
      const inFlight = pool.run(new Float32Array(rows * 10), rows);
      // Kill the one worker under the run, as an OOM kill of its thread would (test-only access).
      await (pool as unknown as { slots: Array<{ worker: import('node:worker_threads').Worker }> }).slots[0]!.worker.terminate();
      await assert.rejects(inFlight, /inference worker exited \(1\) during a run/);
      const out = await pool.run(new Float32Array(2 * 10).fill(0.5), 2);
      assert.equal(out.length, 4);
    } finally {
      await pool.release();
    }
    await assert.rejects(
      WorkerSessionPool.create(files.model.subarray(0, 1000), spec, { workers: 1, intraOpThreads: 1 }),
      /protobuf parsing failed|failed/i,
    );
  });

  test('probes and /metrics answer while a long model run is in flight', async () => {
    const s = startServer({
      SERVING_MODEL_SOURCE: dir,
      SERVING_INFERENCE_WORKERS: '1',
      SERVING_MAX_BATCH: '4000',
      SERVING_BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
    });
    try {
      const url = await s.url();
      const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
      // 3000 rows of a 2048-wide MLP: a run of ~25 GFLOP, seconds on one core.
      const instances = Array.from({ length: 3000 }, (_, i) => golden.cases[i % golden.cases.length].instance);
      let predictDone = false;
      const predict = post(`${url}/v1/models/churn:predict`, { instances }).then((r) => {
        predictDone = true;
        return r;
      });
      // The batcher counts the batch just before it hands it to the worker.
      await waitFor('the 3000-row batch to start', async () => /inference_batch_rows_count\{[^}]*\} 1\b/.test(await (await fetch(`${url}/metrics`)).text()), 20000);
      const answered: number[] = [];
      for (let i = 0; i < 5; i++) {
        const ready = await fetch(`${url}/v2/health/ready`);
        await ready.arrayBuffer();
        const metrics = await fetch(`${url}/metrics`);
        await metrics.arrayBuffer();
        assert.equal(ready.status, 200);
        assert.equal(metrics.status, 200);
        if (!predictDone) answered.push(i);
      }
      assert.deepEqual(answered, [0, 1, 2, 3, 4], 'every probe answered while the run was still in flight');
      const r = await predict;
      assert.equal(r.status, 200);
      assert.equal(r.body.predictions.length, 3000);
    } finally {
      s.proc.kill('SIGTERM');
      await s.exited;
    }
  });
});
