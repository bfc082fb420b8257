import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
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
    expect(manifest.output).toEqual({ labels: ['stay', 'churn'], positive_label: 'churn' });
    expect(manifest.metrics.test.roc_auc).toBeGreaterThan(0.7);
    expect(manifest.metrics.segments.column).toBe('region');
  });

  test('the inference service loads the bundle and reproduces PyTorch within 1e-5', async () => {
    // GIVEN the real service (serving/src/server.ts) started on the trained bundle folder
    const bundle = out[out.length - 1];
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    const golden = JSON.parse(readFileSync(path.join(bundle, 'golden.json'), 'utf8')) as {
      cases: { instance: Record<string, unknown>; output: number[] }[];
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
        predictions: { probabilities: Record<string, number> }[];
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
