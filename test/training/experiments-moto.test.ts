import { CreateTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { main } from '../../training/launcher/main';
import { createTrainingJobRequest } from '../../training/launcher/lib/job-spec';
import {
  awsArgs,
  DUMMY_CREDENTIALS,
  KMS_KEY,
  motoSuite,
  REGION,
  withoutCredentials,
} from './aws-fixtures';
import { recordingRuntime } from './helpers';

/** `experiments` against a real moto server: Search over training jobs, the team's only. */
describe('experiments against moto', () => {
  const suite = motoSuite();
  const start = (name: string, hyperparameters: Record<string, string>) => {
    const sagemaker = new SageMakerClient({ region: REGION, endpoint: suite.moto.url });
    const request = createTrainingJobRequest(
      {
        team: 'fraud',
        stage: 'dev',
        roleArn: 'arn:aws:iam::123456789012:role/fraud-dev-training',
        imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-trainer:1.0.0',
        instanceType: 'ml.g5.xlarge',
        volumeSizeGb: 50,
        outputS3Uri: 's3://fraud-dev-models/training/',
        checkpointS3Uri: 's3://fraud-dev-models/checkpoints',
        kmsKeyArn: KMS_KEY,
        subnetIds: ['subnet-0aaa'],
        securityGroupIds: ['sg-0ccc'],
        maxRuntimeSeconds: 3600,
        maxWaitSeconds: 7200,
        spot: false,
        metricDefinitions: [],
      },
      { name, channelUris: {}, hyperparameters },
    );
    return sagemaker.send(new CreateTrainingJobCommand(request));
  };

  beforeAll(async () => {
    await start('fraud-dev-train-20261126-100000', { epochs: '5', lr: '0.01' });
    // Another team and a name that only contains the prefix: neither is the team's.
    await start('payments-dev-train-20261126-100000', { epochs: '9' });
    await start('antifraud-dev-train-20261126-100000', { epochs: '9' });
  });

  test('lists the team’s runs with their hyperparameters and final metrics as JSON', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const code = await main(['experiments', ...awsArgs(suite.moto), '--json'], runtime);
    expect(runtime.err).toEqual([]);
    expect(code).toBe(0);
    const runs = JSON.parse(runtime.out.join('\n'));
    expect(runs).toEqual([
      {
        name: 'fraud-dev-train-20261126-100000',
        status: 'Completed',
        created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        hyperparameters: { epochs: '5', lr: '0.01' },
        // moto's jobs complete at once with this one metric
        metrics: { 'train:progress': 100 },
      },
    ]);
  });

  test('prints a table for people', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await main(['experiments', ...awsArgs(suite.moto)], runtime)).toBe(0);
    expect(runtime.out).toHaveLength(2);
    expect(runtime.out[0]).toMatch(/^JOB\s+STATUS\s+CREATED\s+train:progress\s+HYPERPARAMETERS$/);
    expect(runtime.out[1]).toMatch(
      /^fraud-dev-train-20261126-100000\s+Completed\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+100\s+epochs=5 lr=0\.01$/,
    );
  });

  test('fails on an unknown team with one line', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const code = await main(['experiments', ...awsArgs(suite.moto), '--team', 'nobody'], runtime);
    expect(code).toBe(1);
    expect(runtime.err).toEqual([
      "error: unknown team 'nobody' in eu-west-1: no SSM parameters under /ml-platform/nobody/ " +
        '(check the name, the region and that the team stack is deployed)',
    ]);
  });

  test('fails without credentials with one line', async () => {
    await withoutCredentials(async () => {
      const runtime = recordingRuntime();
      expect(await main(['experiments', ...awsArgs(suite.moto)], runtime)).toBe(1);
      expect(runtime.err).toHaveLength(1);
      expect(runtime.err[0]).toMatch(
        /^error: no valid AWS credentials while reading SSM parameters under \/ml-platform\/fraud\/dev\/training\/ \(.*\): run `aws sso login`/,
      );
    });
  });
});
