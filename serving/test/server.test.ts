import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FIXTURE } from './helpers';
import { join } from 'node:path';
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

  test('a model that fails its self-test fails startup with exit 1 and the reason', async () => {
    const s = startServer({ SERVING_MODEL_SOURCE: join(FIXTURE, 'does-not-exist') });
    assert.equal(await s.exited, 1);
    assert.match(s.stdout + s.stderr, /no servable model|not found/);
  });
});
