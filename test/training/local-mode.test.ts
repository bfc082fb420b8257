import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import { checkQuality, verdictOf } from '../../serving/src/bundle/quality';
import { recordingRuntime, removeTempDirs, tempDir } from './helpers';

const SERVING = path.join(__dirname, '..', '..', 'serving');

/** Starts the real inference service on a bundle folder, on a free loopback port. */
async function startService(bundle: string): Promise<{ url: string; stop(): Promise<number> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: SERVING,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', SERVING_MODEL_SOURCE: bundle },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(proc, 'exit').then(([code]) => code as number);
  let logs = '';
  proc.stdout!.on('data', (d) => (logs += d));
  proc.stderr!.on('data', (d) => (logs += d));
  for (let i = 0; i < 600 && proc.exitCode === null; i++) {
    const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(logs)?.[1];
    if (url && /"msg":"ready"/.test(logs)) {
      return { url, stop: () => (proc.kill('SIGTERM'), exited) };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`the inference service did not become ready:\n${logs}`);
}

const python = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';

describe('npm run train -- --mode local', () => {
  let out: string[];
  let err: string[];
  let code: number;

  beforeAll(async () => {
    // GIVEN no data: the launcher generates the sample data set
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    // WHEN
    code = await main(['--mode', 'local'], runtime);
    ({ out, err } = runtime);
  });
  // The launcher made the work dir (…/opt/ml/model is the bundle): remove it too.
  afterAll(() => removeTempDirs(path.resolve(out[out.length - 1], '..', '..', '..')));

  test('prints the bundle folder as the last line of stdout and streams progress to stderr', () => {
    expect(code).toBe(0);
    const bundle = out[out.length - 1];
    expect(path.isAbsolute(bundle)).toBe(true);
    expect(readFileSync(path.join(bundle, 'manifest.json'), 'utf8')).toContain(
      '"schema_version": 1',
    );
    expect(err.join('\n')).toMatch(/epoch=1 train_loss=/);
    expect(err.join('\n')).toMatch(/test_roc_auc=/);
    expect(out.join('\n')).not.toMatch(/epoch=/);
  });

  test('writes a bundle that follows the model bundle contract', () => {
    const bundle = out[out.length - 1];
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const onnx = readFileSync(path.join(bundle, 'model.onnx'));
    expect(manifest.model).toEqual({
      file: 'model.onnx',
      sha256: createHash('sha256').update(onnx).digest('hex'),
      input_name: 'input',
      input_dim: 14,
      output_name: 'probabilities',
    });
    expect(manifest.name).toBe('churn');
    expect(manifest.task).toBe('binary_classification');
    expect(manifest.output).toEqual({
      labels: ['stay', 'churn'],
      positive_label: 'churn',
      threshold: expect.any(Number),
    });
    expect(manifest.metrics.test.roc_auc).toBeGreaterThan(0.7);
    expect(manifest.metrics.segments.column).toBe('region');
  });

  test('the model card compares the model with its baselines, with the objective and the verdict', () => {
    const bundle = out[out.length - 1];
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const card = readFileSync(path.join(bundle, 'model_card.md'), 'utf8');
    const quality = verdictOf(manifest)!;
    expect(quality.objective).toEqual({ metric: 'f1', parameter: null, target: null });
    expect(Object.keys(manifest.metrics.baselines)).toEqual(['logistic_regression', 'majority']);
    expect(card).toContain('| metric | model | logistic_regression | majority |');
    expect(card).toMatch(/\| \*\*f1\*\* \(objective\) \| 0\.\d{4} \| 0\.\d{4} \| 0\.0000 \|/);
    expect(card).toContain(
      `the best baseline (${quality.verdict.best_baseline}, ${quality.verdict.best_baseline_value!.toFixed(4)})`,
    );
    expect(card).toContain('![precision-recall curve](precision_recall.svg)');
    // No target in a default run: publishing would warn, and refuse with --require-target.
    expect(checkQuality(manifest, { requireTarget: true }).refusal).toMatch(
      /no target is set for f1/,
    );
  });

  test('the inference service loads the bundle and reproduces PyTorch within 1e-5', async () => {
    // GIVEN the real service (serving/src/server.ts) started on the trained bundle folder
    const bundle = out[out.length - 1];
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const golden = JSON.parse(readFileSync(path.join(bundle, 'golden.json'), 'utf8')) as {
      cases: { instance: Record<string, unknown>; output: number[]; label: string }[];
    };
    expect(golden.cases.length).toBeGreaterThanOrEqual(16);
    const server = await startService(bundle);
    try {
      // THEN it is ready: it verified sha256 and its self-test on the golden vectors passed
      expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
      const meta = (await (await fetch(`${server.url}/v2/models/${manifest.name}`)).json()) as {
        versions: string[];
      };
      expect(meta.versions).toContain(manifest.version);
      // WHEN the golden instances are sent as one batch of raw named features
      const response = await fetch(`${server.url}/v1/models/${manifest.name}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: golden.cases.map((c) => c.instance) }),
      });
      const body = (await response.json()) as {
        model_version: string;
        predictions: { label: string; probabilities: Record<string, number> }[];
      };
      // THEN every probability matches PyTorch's output (written by the trainer) within 1e-5
      expect(response.status).toBe(200);
      expect(body.model_version).toBe(manifest.version);
      golden.cases.forEach((c, i) => {
        const { probabilities } = body.predictions[i];
        manifest.output.labels.forEach((label: string, j: number) =>
          expect(Math.abs(probabilities[label] - c.output[j])).toBeLessThanOrEqual(1e-5),
        );
      });
      expect(body.predictions.map((p) => p.label)).toEqual(golden.cases.map((c) => c.label));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test('packs model.tar.gz with the bundle files at the archive root', () => {
    const archive = out.find((l) => l.startsWith('model.tar.gz: '))!.slice('model.tar.gz: '.length);
    const listing = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' }).stdout.split('\n');
    expect(listing).toEqual(
      expect.arrayContaining([
        './model.onnx',
        './manifest.json',
        './golden.json',
        './model_card.md',
        './precision_recall.svg',
      ]),
    );
  });
});

describe('npm run train -- --mode local with a precision_at_recall objective', () => {
  let bundle: string;
  let code: number;
  beforeAll(async () => {
    // GIVEN the objective of a team that must catch 90% of churners
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    // WHEN
    code = await main(
      [
        '--objective-metric',
        'precision_at_recall',
        '--objective-parameter',
        '0.9',
        '--objective-target',
        '0.85',
      ],
      runtime,
    );
    bundle = runtime.out[runtime.out.length - 1];
  });
  afterAll(() => removeTempDirs(path.resolve(bundle, '..', '..', '..')));

  test('records the objective, a missed target, and a threshold far below 0.5', () => {
    expect(code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.metrics.objective).toEqual({
      metric: 'precision_at_recall',
      parameter: 0.9,
      target: 0.85,
    });
    // The sample data cannot give 85% precision at 90% recall: the verdict says so.
    expect(manifest.metrics.verdict.target_met).toBe(false);
    expect(manifest.metrics.validation.recall).toBeGreaterThanOrEqual(0.9);
    expect(manifest.output.threshold).toBeLessThan(0.3);
    expect(checkQuality(manifest).warnings[0]).toMatch(
      /^precision_at_recall \(recall >= 0\.9\) is 0\.\d+ on the test split: target 0\.85 missed by/,
    );
  });

  test('the service labels the golden cases by the threshold, not by argmax', async () => {
    // GIVEN the real service on the bundle
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const { cases } = JSON.parse(readFileSync(path.join(bundle, 'golden.json'), 'utf8')) as {
      cases: { instance: Record<string, unknown>; output: number[]; label: string }[];
    };
    const threshold = manifest.output.threshold as number;
    const pChurn = cases.map((c) => c.output[1]);
    // cases on both sides of the threshold, and some that argmax would call "stay"
    expect(pChurn.some((p) => p >= threshold && p < 0.5)).toBe(true);
    expect(pChurn.some((p) => p < threshold)).toBe(true);
    const server = await startService(bundle);
    try {
      // WHEN
      const response = await fetch(`${server.url}/v1/models/churn:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: cases.map((c) => c.instance) }),
      });
      const { predictions } = (await response.json()) as {
        predictions: { label: string; probabilities: Record<string, number> }[];
      };
      // THEN churn exactly where the served P(churn) reaches the threshold
      expect(response.status).toBe(200);
      predictions.forEach((p) =>
        expect(p.label).toBe(p.probabilities.churn >= threshold ? 'churn' : 'stay'),
      );
      expect(predictions.map((p) => p.label)).toEqual(cases.map((c) => c.label));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('npm run train -- --mode local on a numeric label (regression)', () => {
  let bundle: string;
  let code: number;
  beforeAll(async () => {
    // GIVEN a data set whose label is a number: a linear function of the features plus noise
    const dir = tempDir('regression-data-');
    const rows = ['usage,seats,plan,spend'];
    for (let i = 0; i < 800; i++) {
      const usage = (i * 37) % 100;
      const seats = 1 + ((i * 13) % 20);
      const plan = ['basic', 'pro', 'enterprise'][i % 3];
      const noise = Math.sin(i * 12.9898) * 2;
      const spend =
        10 + 0.5 * usage + 3 * seats + { basic: 0, pro: 15, enterprise: 40 }[plan]! + noise;
      rows.push(`${usage},${seats},${plan},${spend.toFixed(3)}`);
    }
    writeFileSync(path.join(dir, 'train.csv'), rows.join('\n'));
    writeFileSync(
      path.join(dir, 'schema.json'),
      JSON.stringify({ name: 'spend', label: 'spend', task: 'regression', features: [] }),
    );
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    // WHEN
    code = await main(
      [
        '--data',
        dir,
        '--out',
        path.join(dir, 'work'),
        '--objective-metric',
        'mae',
        '--objective-target',
        '5',
      ],
      runtime,
    );
    bundle = runtime.out[runtime.out.length - 1];
  });
  afterAll(() => removeTempDirs());

  test('compares the regressor with the mean and a linear regression, lower is better', () => {
    expect(code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.task).toBe('regression');
    expect(Object.keys(manifest.metrics.baselines)).toEqual(['linear_regression', 'mean']);
    const { verdict } = manifest.metrics;
    expect(verdict.value).toBe(manifest.metrics.test.mae);
    expect(verdict.target_met).toBe(manifest.metrics.test.mae <= 5);
    expect(verdict.margin).toBeCloseTo(verdict.best_baseline_value - verdict.value, 12);
  });

  test('the inference service serves the regression bundle: predictions equal the golden outputs', async () => {
    const golden = JSON.parse(readFileSync(path.join(bundle, 'golden.json'), 'utf8')) as {
      atol: number;
      cases: { instance: Record<string, unknown>; output: number[] }[];
    };
    const server = await startService(bundle);
    try {
      const response = await fetch(`${server.url}/v1/models/spend:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: golden.cases.map((c) => c.instance) }),
      });
      const body = (await response.json()) as { predictions: { value: number }[] };
      expect(response.status).toBe(200);
      golden.cases.forEach((c, i) =>
        expect(Math.abs(body.predictions[i].value - c.output[0])).toBeLessThanOrEqual(golden.atol),
      );
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('local mode failures', () => {
  afterAll(() => removeTempDirs());

  test('fails with the trainer’s failure reason on one line', async () => {
    // GIVEN a data set whose required column has a missing value
    const dir = tempDir('bad-data-');
    const rows = ['plan,amount,label'];
    for (let i = 0; i < 200; i++)
      rows.push(`${i === 7 ? '' : 'basic'},${i},${i % 3 === 0 ? 'yes' : 'no'}`);
    writeFileSync(path.join(dir, 'train.csv'), rows.join('\n'));
    writeFileSync(
      path.join(dir, 'schema.json'),
      JSON.stringify({
        label: 'label',
        features: [
          { name: 'plan', type: 'categorical', required: true },
          { name: 'amount', type: 'numeric' },
        ],
      }),
    );
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    // WHEN
    const code = await main(['--data', dir, '--out', path.join(dir, 'work')], runtime);
    // THEN
    expect(code).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      "error: local training failed: data check failed: column 'plan' is required but has 1 missing values (channel 'train')",
    );
    expect(runtime.out).toEqual([]);
  });

  test('fails clearly when the python cannot import torch', async () => {
    const dir = tempDir('no-torch-');
    mkdirSync(path.join(dir, 'bin'));
    const fake = path.join(dir, 'bin', 'python3');
    writeFileSync(
      fake,
      '#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n',
      {
        mode: 0o755,
      },
    );
    const runtime = recordingRuntime();
    expect(await main(['--python', fake], runtime)).toBe(1);
    expect(runtime.err).toEqual([
      `error: python '${fake}' cannot import torch: ModuleNotFoundError: No module named 'torch'`,
    ]);
  });
});
