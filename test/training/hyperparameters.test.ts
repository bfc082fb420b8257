import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseCommandLine } from '../../training/launcher/cli/options';
import { trainerHyperparameters } from '../../training/launcher/lib/hyperparameters';
import { main } from '../../training/launcher/main';
import { OBJECTIVE_METRICS } from '../../serving/src/bundle/quality';
import { recordingRuntime } from './helpers';

const hyperparameters = (argv: string[], team?: Parameters<typeof trainerHyperparameters>[1]) =>
  trainerHyperparameters(parseCommandLine(argv, {}).options, team);

const TEAM = { metric: 'precision_at_recall', parameter: 0.9, target: 0.85 } as const;

describe('trainer hyperparameters: objective and quality options', () => {
  test('the team objective becomes objective_* hyperparameters', () => {
    expect(hyperparameters(['--hp', 'epochs=3'], TEAM)).toEqual({
      epochs: '3',
      objective_metric: 'precision_at_recall',
      objective_parameter: '0.9',
      objective_target: '0.85',
    });
  });

  test('flags win field by field; another metric drops the team’s parameter and target', () => {
    expect(hyperparameters(['--objective-target', '0.8'], TEAM)).toMatchObject({
      objective_metric: 'precision_at_recall',
      objective_parameter: '0.9',
      objective_target: '0.8',
    });
    expect(hyperparameters(['--objective-metric', 'roc_auc'], TEAM)).toEqual({
      objective_metric: 'roc_auc',
    });
  });

  test('--hp objective_* replaces the team objective as a whole', () => {
    expect(hyperparameters(['--hp', 'objective_metric=f1'], TEAM)).toEqual({
      objective_metric: 'f1',
    });
  });

  test('--class-weight and --cv become class_weight and cv_folds', () => {
    expect(hyperparameters(['--class-weight', 'balanced', '--cv', '5'])).toEqual({
      class_weight: 'balanced',
      cv_folds: '5',
    });
  });

  test.each([
    [
      ['--objective-metric', 'precision_at_recall', '--objective-parameter', '1.5'],
      '--objective-parameter: must be a recall in (0, 1], got 1.5',
    ],
    [
      ['--objective-metric', 'recall_at_precision'],
      '--objective-parameter: recall_at_precision needs a parameter: the minimum precision, in (0, 1]',
    ],
    [
      ['--objective-metric', 'roc_auc', '--objective-target', '2'],
      '--objective-target: must be in [0, 1] for roc_auc, got 2',
    ],
    [
      ['--objective-target', '0.8'],
      '--objective-parameter and --objective-target need --objective-metric (or a team objective)',
    ],
    [['--cv', '1'], '--cv must be a whole number of folds, at least 2, got 1'],
  ])('fails on %j naming the flag', (argv, message) => {
    expect(() => hyperparameters(argv)).toThrow(message);
  });

  test('fails on an unknown metric before anything runs (exit code 2)', async () => {
    const runtime = recordingRuntime();
    expect(await main(['--objective-metric', 'auc'], runtime)).toBe(2);
    expect(runtime.err[0]).toMatch(
      /--objective-metric \(flag\) must be one of roc_auc, f1, precision_at_recall, recall_at_precision, accuracy, mae, rmse, got 'auc'/,
    );
  });

  test('the Python trainer has the same metrics, directions, parameters and ranges', () => {
    // GIVEN the trainer's table (ml_trainer/objectives.py), read by the trainer's own python
    const python = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';
    const result = spawnSync(
      python,
      [
        '-c',
        'import json; from ml_trainer.objectives import OBJECTIVE_METRICS; print(json.dumps(OBJECTIVE_METRICS))',
      ],
      { cwd: path.join(__dirname, '../../training/reference'), encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    // THEN it is the TypeScript contract, entry for entry and in the same order
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(OBJECTIVE_METRICS)));
    expect(Object.keys(JSON.parse(result.stdout))).toEqual(Object.keys(OBJECTIVE_METRICS));
  });
});
