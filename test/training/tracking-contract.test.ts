import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { TRACKING_ENV } from '../../constructs/training/contract';

describe('experiment tracking contract', () => {
  test('the trainer reads the tracking variables the launcher sets', () => {
    // GIVEN the trainer's names (ml_trainer/tracking.py), read by the trainer's own python
    const python = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';
    const result = spawnSync(
      python,
      ['-c', 'import json; from ml_trainer.tracking import ENV; print(json.dumps(ENV))'],
      { cwd: path.join(__dirname, '../../training/reference'), encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    // THEN they are the TypeScript contract's, key for key
    expect(JSON.parse(result.stdout)).toEqual(TRACKING_ENV);
  });
});
