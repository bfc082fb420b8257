import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFiles, FIXTURE, VERSION } from './helpers';
import { startServer } from './process';

describe('server process', () => {
  test('a bad environment fails startup with exit 2, naming each variable', async () => {
    const s = startServer({ SERVING_MODEL_SOURCE: FIXTURE, PORT: 'eighty', SERVING_MAX_BATCH: '0', SERVING_EMF: 'maybe', SERVING_EMF_SINK: 'kinesis', SERVING_TEAM: 'a\tb' });
    assert.equal(await s.exited, 2);
    assert.match(s.stderr, /invalid configuration/);
    assert.match(s.stderr, /PORT: must be a whole number \(given: "eighty"\)/);
    assert.match(s.stderr, /SERVING_MAX_BATCH: .*>=1/);
    assert.match(s.stderr, /SERVING_EMF: must be true or false/);
    assert.match(s.stderr, /SERVING_EMF_SINK: must be stdout or cloudwatch \(given: "kinesis"\)/);
    assert.match(s.stderr, /SERVING_TEAM: must be printable text/);
    assert.doesNotMatch(s.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a model source folder that does not exist fails startup with exit 1, naming it', async () => {
    const missing = join(FIXTURE, 'does-not-exist');
    const s = startServer({ SERVING_MODEL_SOURCE: missing });
    assert.equal(await s.exited, 1);
    assert.match(s.stderr, new RegExp(`serving: cannot start: ${missing}: no such folder \\(SERVING_MODEL_SOURCE\\)`));
  });

  test('a plain bundle folder that fails its self-test fails startup with exit 1 and the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serving-plain-'));
    try {
      for (const [name, body] of Object.entries(bundleFiles(VERSION, (m) => (m.model.sha256 = '0'.repeat(64))))) writeFileSync(join(dir, name), body);
      const s = startServer({ SERVING_MODEL_SOURCE: dir });
      assert.equal(await s.exited, 1);
      assert.match(s.stderr, /serving: cannot start: no servable model at .*: the bundle at .* was refused: .*sha256/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
