import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TRAINER_ENVIRONMENT } from '../../constructs/training/contract';

const DISTRIBUTED_PY = path.join(__dirname, '../../training/reference/ml_trainer/distributed.py');

describe('the trainer environment contract', () => {
  test('the trainer reads the processes-per-node variable the infrastructure and launcher set', () => {
    const source = readFileSync(DISTRIBUTED_PY, 'utf8');
    const match = /^PROCESSES_PER_NODE_ENV = "([A-Z_]+)"$/m.exec(source);
    expect(match?.[1]).toBe(TRAINER_ENVIRONMENT.processesPerNode);
  });

  test('docs/training-contract.md documents it', () => {
    const doc = readFileSync(path.join(__dirname, '../../docs/training-contract.md'), 'utf8');
    expect(doc).toContain(`\`${TRAINER_ENVIRONMENT.processesPerNode}\``);
  });
});
