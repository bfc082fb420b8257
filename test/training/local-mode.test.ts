import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import { recordingRuntime, removeTempDirs, tempDir } from './helpers';

interface Feature {
  name: string;
  type: 'numeric' | 'categorical';
  required: boolean;
  min?: number | null;
  max?: number | null;
  impute: number | string | null;
  mean?: number;
  std?: number;
  vocabulary?: string[];
  unknown?: 'error' | 'ignore';
}
type Instance = Record<string, number | string | null>;

/** docs/model-bundle.md "Preprocessing (exact)", written from the text, as the service would. */
function preprocess(instance: Instance, features: Feature[]): number[] {
  const out: number[] = [];
  for (const f of features) {
    let v = instance[f.name] ?? null;
    if (v === null) {
      if (f.required) throw new Error(`${f.name} is required`);
      v = f.impute;
    }
    if (f.type === 'numeric') {
      if (typeof v !== 'number') throw new Error(`${f.name} is not a number`);
      const std = f.std === 0 ? 1 : (f.std as number);
      out.push(Math.fround((v - (f.mean as number)) / std));
    } else {
      const vocabulary = f.vocabulary as string[];
      const index = vocabulary.indexOf(v as string);
      if (index < 0 && f.unknown === 'error') throw new Error(`${f.name}: unknown ${String(v)}`);
      out.push(...vocabulary.map((_, i) => (i === index ? 1 : 0)));
    }
  }
  return out;
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
    expect(manifest.output).toEqual({ labels: ['stay', 'churn'], positive_label: 'churn' });
    expect(manifest.metrics.test.roc_auc).toBeGreaterThan(0.7);
    expect(manifest.metrics.segments.column).toBe('region');
  });

  test('golden vectors agree with the documented preprocessing', () => {
    const bundle = out[out.length - 1];
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const golden = JSON.parse(readFileSync(path.join(bundle, 'golden.json'), 'utf8'));
    expect(golden.cases.length).toBeGreaterThanOrEqual(16);
    for (const c of golden.cases as {
      instance: Instance;
      features: number[];
      output: number[];
    }[]) {
      const expected = preprocess(c.instance, manifest.features);
      expect(c.features).toHaveLength(expected.length);
      c.features.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(1e-6));
      expect(c.output.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
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
      ]),
    );
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
