import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { STATE_MACHINE_PARAMETER } from '../../training/launcher/pipeline/contract';
import { main } from '../../training/launcher/retrain';
import { DUMMY_CREDENTIALS, REGION, startMoto, type Moto } from '../training/aws-fixtures';
import { recordingRuntime } from '../training/helpers';

const PARAMETER = `/ml-platform/fraud/dev/training/${STATE_MACHINE_PARAMETER}`;

describe('npm run retrain against the emulator (moto Step Functions, executing)', () => {
  let moto: Moto;
  let sfn: SFNClient;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    moto = await startMoto();
    Object.assign(process.env, DUMMY_CREDENTIALS);
    sfn = new SFNClient({
      region: REGION,
      endpoint: moto.url,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });
  beforeEach(async () => {
    // A fresh emulator per test (moto 5.2.1 fails a second execution of its executing Step
    // Functions in one process), which runs the state machine's states instead of leaving
    // every execution RUNNING.
    await fetch(`${moto.url}/moto-api/reset`, { method: 'POST' });
    await fetch(`${moto.url}/moto-api/config`, {
      method: 'POST',
      body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
    });
  });
  afterAll(async () => {
    process.env = savedEnv;
    await moto.stop();
  });

  const deploy = async (name: string, states: object) => {
    const machine = await sfn.send(
      new CreateStateMachineCommand({
        name,
        definition: JSON.stringify({ StartAt: Object.keys(states)[0], States: states }),
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
      }),
    );
    await moto.ssm.send(
      new PutParameterCommand({
        Name: PARAMETER,
        Value: machine.stateMachineArn!,
        Type: 'String',
        Overwrite: true,
      }),
    );
    return machine.stateMachineArn!;
  };
  // Each run at its own time: execution names carry it, and moto refuses a name twice.
  let runs = 0;
  const retrain = async (...args: string[]) => {
    const runtime = recordingRuntime(
      DUMMY_CREDENTIALS,
      [],
      new Date(Date.UTC(2026, 10, 26, 10, 15, runs++)),
    );
    const code = await main(
      [
        '--team',
        'fraud',
        '--region',
        REGION,
        '--endpoint-url',
        moto.url,
        '--poll-seconds',
        '1',
        ...args,
      ],
      runtime,
    );
    return { code, out: runtime.out, err: runtime.err };
  };

  test('fails with the missing parameter named when the team has no pipeline', async () => {
    const r = await retrain('--stage', 'prod');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      "error: team 'fraud' stage 'prod' has no retraining pipeline in eu-west-1: SSM parameter /ml-platform/fraud/prod/training/pipeline/state-machine-arn is missing (add a pipeline section to the team file and deploy)",
    ]);
  });

  test('starts an execution, prints its console link, follows its states and prints the result', async () => {
    const arn = await deploy('mlp-fraud-dev-retraining', {
      'Acquire lock': { Type: 'Pass', Next: 'Gate' },
      Gate: { Type: 'Pass', Result: { outcome: 'promoted' }, End: true },
    });
    const r = await retrain();
    expect(r.code).toBe(0);
    expect(r.err[0]).toMatch(
      new RegExp(
        `^started ${arn.replace('stateMachine', 'execution')}:fraud-dev-retrain-20261126-10150[0-9]: https://eu-west-1\\.console\\.aws\\.amazon\\.com/states/home\\?region=eu-west-1#/v2/executions/details/arn:aws:states:`,
      ),
    );
    expect(r.err).toEqual(
      expect.arrayContaining(['-> Acquire lock', '-> Gate', 'execution SUCCEEDED']),
    );
    expect(JSON.parse(r.out.at(-1)!)).toEqual({ outcome: 'promoted' });
  });

  test('an execution that fails exits non-zero with its error', async () => {
    await deploy('mlp-fraud-dev-retraining-2', {
      Gate: { Type: 'Pass', Next: 'Boom' },
      Boom: {
        Type: 'Fail',
        Error: 'RetrainingFailed',
        Cause: 'the gate could not read the manifest',
      },
    });
    const r = await retrain();
    expect(r.code).not.toBe(0);
    // A poll may catch the execution RUNNING before it fails (timing): that line is allowed.
    expect(r.err.filter((line) => line !== 'execution RUNNING')).toEqual([
      expect.stringMatching(/^started /),
      '-> Gate',
      '-> Boom',
      'execution FAILED',
      expect.any(String),
    ]);
    expect(r.err.at(-1)).toMatch(
      /^error: retraining execution arn:aws:states:.* ended FAILED: RetrainingFailed: the gate could not read the manifest$/,
    );
  });
});
