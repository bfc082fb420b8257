import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config';
import { FIXTURE, golden, post, waitFor } from './helpers';
import { startServer } from './process';

/** Runs 40 good predictions, one invalid and one unknown route; returns the access lines logged. */
async function accessLines(env: Record<string, string>) {
  const s = startServer({ SERVING_MODEL_SOURCE: FIXTURE, ...env });
  try {
    const url = await s.url();
    for (let i = 0; i < 40; i++) assert.equal((await post(`${url}/v1/models/churn:predict`, { instances: [golden.cases[0].instance] })).status, 200);
    assert.equal((await post(`${url}/v1/models/churn:predict`, { instances: [{}] })).status, 422);
    assert.equal((await fetch(`${url}/nowhere`)).status, 404);
    s.proc.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    await waitFor('the exit flush', () => s.stdout.includes('"msg":"shutdown complete"'));
    return s.stdout
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { status: number; url: string; slow?: boolean; sample_rate?: number });
  } finally {
    if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  }
}

describe('access logs (real process)', () => {
  test('defaults: 1% of successful requests sampled, 1 s is slow', () => {
    assert.deepEqual(loadConfig({ SERVING_MODEL_SOURCE: FIXTURE }).accessLog, { sample: 0.01, slowRequestMs: 1000 });
  });

  test('sample 0: successful requests write nothing; 4xx are always logged', async () => {
    const lines = await accessLines({ SERVING_ACCESS_LOG_SAMPLE: '0' });
    assert.deepEqual(
      lines.map((l) => [l.status, l.url]),
      [
        [422, '/v1/models/churn:predict'],
        [404, '/nowhere'],
      ],
    );
    assert.ok(lines.every((l) => l.sample_rate === undefined && l.slow === undefined));
  });

  test('sample 1: every request logged, each line saying the rate it stands for', async () => {
    const lines = await accessLines({ SERVING_ACCESS_LOG_SAMPLE: '1' });
    const ok = lines.filter((l) => l.status === 200);
    assert.equal(ok.length, 40);
    assert.ok(ok.every((l) => l.sample_rate === 1));
    assert.equal(lines.length, 42);
  });

  test('requests slower than the threshold are always logged, marked slow', async () => {
    const lines = await accessLines({ SERVING_ACCESS_LOG_SAMPLE: '0', SERVING_SLOW_REQUEST_MS: '0' });
    assert.equal(lines.filter((l) => l.status === 200 && l.slow === true).length, 40);
  });
});
