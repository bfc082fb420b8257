import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OPTIONS, parseCommandLine } from '../../training/launcher/cli/options';
import { main } from '../../training/launcher/main';
import { main as modelMain } from '../../training/launcher/model';
import {
  MODEL_CLI,
  MODEL_COMMANDS,
  MODEL_OPTIONS,
  type ModelCommand,
  type ModelOptions,
} from '../../training/launcher/cli/model-options';
import { parseWith } from '../../training/launcher/cli/option-table';
import { recordingRuntime, removeTempDirs, tempDir } from './helpers';

describe('launcher options', () => {
  afterAll(() => removeTempDirs());

  test('defaults to train in local mode', () => {
    const { command, options } = parseCommandLine([], {});
    expect(command).toBe('train');
    expect(options.mode).toBe('local');
    expect(options.stage).toBe('dev');
    expect(options.hp).toEqual([]);
    expect(options.pollSeconds).toBe(15);
  });

  test('flag beats config file beats environment beats default', () => {
    const dir = tempDir('cfg-');
    const config = path.join(dir, 'train.json');
    writeFileSync(config, JSON.stringify({ team: 'from-file', stage: 'prod', 'poll-seconds': 5 }));
    const env = { ML_TEAM: 'from-env', ML_STAGE: 'staging', AWS_REGION: 'eu-west-1' };
    const { options } = parseCommandLine(['--config', config, '--stage', 'qa'], env);
    expect(options).toMatchObject({
      team: 'from-file',
      stage: 'qa',
      pollSeconds: 5,
      region: 'eu-west-1',
    });
  });

  test('collects repeated hyperparameters', () => {
    const { command, options } = parseCommandLine(
      ['tune', '--hp', 'epochs=3', '--hp', 'lr=0.1'],
      {},
    );
    expect(command).toBe('tune');
    expect(options.hp).toEqual(['epochs=3', 'lr=0.1']);
  });

  test.each([
    [['--mode', 'gpu'], /--mode \(flag\) must be one of local, sagemaker, ec2, got 'gpu'/],
    [['--poll-seconds', 'soon'], /--poll-seconds \(flag\) must be a positive number/],
    [['--nope'], /Unknown option '--nope'/],
    [['deploy'], /unknown command 'deploy'/],
  ])('fails on %j with a usage error (exit code 2)', async (argv, message) => {
    const runtime = recordingRuntime();
    expect(await main(argv, runtime)).toBe(2);
    expect(runtime.err).toHaveLength(1);
    expect(runtime.err[0]).toMatch(message);
  });

  test('--help lists every option from the table on stdout', async () => {
    const runtime = recordingRuntime();
    expect(await main(['--help'], runtime)).toBe(0);
    for (const name of Object.keys(OPTIONS)) expect(runtime.out[0]).toContain(`--${name}`);
  });
});

describe('npm run model options (the same machinery)', () => {
  test('--help lists every command with its arguments and every option, on stdout', async () => {
    const runtime = recordingRuntime();
    expect(await modelMain(['--help'], runtime)).toBe(0);
    const help = runtime.out[0];
    expect(help).toMatch(/^Usage: npm run model -- <command> \[arguments\] \[options\]/);
    expect(help).toContain('  publish SOURCE ');
    expect(help).toContain('  promote VERSION ');
    for (const name of Object.keys(MODEL_COMMANDS)) expect(help).toContain(`  ${name}`);
    for (const name of Object.keys(MODEL_OPTIONS)) expect(help).toContain(`--${name}`);
  });

  test('parses a command, its argument and typed options', () => {
    const parsed = parseWith<ModelCommand, ModelOptions>(
      MODEL_CLI,
      ['promote', 'v7', '--canary', '12.5', '--json'],
      { ML_TEAM: 'fraud' },
    );
    expect(parsed).toMatchObject({
      command: 'promote',
      args: ['v7'],
      options: { canary: 12.5, json: true, team: 'fraud', stage: 'dev', minutes: 60 },
    });
  });
});
