import { DescribeTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import {
  awsArgs,
  DUMMY_CREDENTIALS,
  KMS_KEY,
  putBundle,
  REGION,
  motoSuite,
  withoutCredentials,
} from './aws-fixtures';
import { recordingRuntime, tempDir } from './helpers';

/** SageMaker mode against a real moto server: the AWS protocol end to end, where moto supports it. */
describe('--mode sagemaker against moto', () => {
  const suite = motoSuite();

  test('uploads the data, starts the job with the team settings and downloads the bundle', async () => {
    // GIVEN a finished job's artifact where SageMaker will say it is
    const name = 'fraud-train-moto-1';
    await putBundle(suite.moto, `s3://fraud-dev-models/training/${name}/output/model.tar.gz`);
    const out = tempDir('sm-out-');
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    // WHEN
    const code = await main(
      [
        '--mode',
        'sagemaker',
        ...awsArgs(suite.moto, '--job-name', name, '--out', out, '--hp', 'epochs=7'),
      ],
      runtime,
    );
    // THEN
    expect(runtime.err.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(code).toBe(0);
    expect(runtime.out[runtime.out.length - 1]).toBe(path.join(out, 'model'));
    expect(existsSync(path.join(out, 'model', 'manifest.json'))).toBe(true);

    const uploaded = await suite.moto.s3.send(
      new ListObjectsV2Command({ Bucket: 'fraud-dev-data', Prefix: `features/training/${name}/` }),
    );
    expect(uploaded.Contents?.map((o) => o.Key).sort()).toEqual([
      `features/training/${name}/train/schema.json`,
      `features/training/${name}/train/train.csv`,
    ]);
    const csv = await suite.moto.s3.send(
      new GetObjectCommand({
        Bucket: 'fraud-dev-data',
        Key: `features/training/${name}/train/train.csv`,
      }),
    );
    expect(csv.ServerSideEncryption).toBe('aws:kms');
    expect(csv.SSEKMSKeyId).toBe(KMS_KEY);

    const sagemaker = new SageMakerClient({ region: REGION, endpoint: suite.moto.url });
    const job = await sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
    expect(job).toMatchObject({
      RoleArn: 'arn:aws:iam::123456789012:role/fraud-dev-training',
      HyperParameters: { epochs: '7' },
      ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeKmsKeyId: KMS_KEY },
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 14400 },
      CheckpointConfig: {
        S3Uri: `s3://fraud-dev-models/checkpoints/${name}/`,
        LocalPath: '/opt/ml/checkpoints',
      },
      VpcConfig: { Subnets: ['subnet-0aaa', 'subnet-0bbb'], SecurityGroupIds: ['sg-0ccc'] },
      OutputDataConfig: { S3OutputPath: 's3://fraud-dev-models/training/', KmsKeyId: KMS_KEY },
      InputDataConfig: [
        expect.objectContaining({
          ChannelName: 'train',
          DataSource: {
            S3DataSource: expect.objectContaining({
              S3Uri: `s3://fraud-dev-data/features/training/${name}/train/`,
            }),
          },
        }),
      ],
    });
  });

  test('fails on an unknown team with one line', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const code = await main(
      ['--mode', 'sagemaker', ...awsArgs(suite.moto), '--team', 'nobody'],
      runtime,
    );
    expect(code).toBe(1);
    expect(runtime.err).toEqual([
      "error: unknown team 'nobody' in eu-west-1: no SSM parameters under /ml-platform/nobody/ " +
        '(check the name, the region and that the team stack is deployed)',
    ]);
  });

  test('fails when the team’s training stack is not deployed', async () => {
    // GIVEN a team with only serving parameters
    await suite.moto.ssm.send(
      new PutParameterCommand({
        Name: '/ml-platform/payments/dev/serving/url',
        Value: 'x',
        Type: 'String',
      }),
    );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const code = await main(
      ['--mode', 'ec2', ...awsArgs(suite.moto), '--team', 'payments'],
      runtime,
    );
    expect(code).toBe(1);
    expect(runtime.err).toHaveLength(1);
    expect(runtime.err[0]).toMatch(
      /^error: the training stack for team 'payments' stage 'dev' is not deployed in eu-west-1: missing SSM parameters \/ml-platform\/payments\/dev\/training\/image-uri, .*\/ml-platform\/payments\/dev\/training\/batch\/job-definition$/,
    );
  });

  test('fails without credentials with one line', async () => {
    // GIVEN no credentials anywhere the SDK looks
    await withoutCredentials(async () => {
      const runtime = recordingRuntime();
      const code = await main(['--mode', 'sagemaker', ...awsArgs(suite.moto)], runtime);
      expect(code).toBe(1);
      expect(runtime.err).toHaveLength(1);
      expect(runtime.err[0]).toMatch(
        /^error: no valid AWS credentials while reading SSM parameters under \/ml-platform\/fraud\/dev\/training\/ \(.*\): run `aws sso login`/,
      );
    });
  });
});
