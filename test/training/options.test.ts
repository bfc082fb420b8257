import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OPTIONS, parseCommandLine } from '../../training/launcher/cli/options';
import { main } from '../../training/launcher/main';
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
