import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import { recordingRuntime, removeTempDirs } from './helpers';

const python = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';

describe('npm run train -- --mode local --processes 2', () => {
  test('trains one model with two data-parallel processes and prints the bundle', async () => {
    // GIVEN the generated sample data set and two processes on this machine
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    // WHEN
    const code = await main(
      ['--mode', 'local', '--processes', '2', '--hp', 'epochs=3', '--hp', 'patience=10'],
      runtime,
    );
    // THEN
    const bundle = runtime.out[runtime.out.length - 1];
    try {
      expect(code).toBe(0);
      const log = runtime.err.join('\n');
      expect(log).toMatch(/, 2 processes$/m);
      expect(log).toMatch(/train channel: 1 shard files, 6000 rows over 2 rank\(s\)/);
      expect(log.match(/^ {2}epoch=\d+ /gm)).toHaveLength(3); // rank 0 alone logs
      const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
      expect(manifest.metrics.test.roc_auc).toBeGreaterThan(0.7);
    } finally {
      removeTempDirs(path.resolve(bundle, '..', '..', '..'));
    }
  });

  test('fails on a fractional process count', async () => {
    const runtime = recordingRuntime({ TRAINER_PYTHON: python });
    expect(await main(['--mode', 'local', '--processes', '1.5'], runtime)).toBe(2);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      'error: --processes must be a whole number, got 1.5',
    );
  });
});
