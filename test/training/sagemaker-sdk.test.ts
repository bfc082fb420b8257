import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  ResourceLimitExceeded,
  StopTrainingJobCommand,
  type DescribeTrainingJobResponse,
} from '@aws-sdk/client-sagemaker';
import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import { awsArgs, DUMMY_CREDENTIALS, KMS_KEY, sageMakerBoundarySuite } from './aws-fixtures';
import { recordingRuntime, tempDir } from './helpers';

/**
 * What moto cannot show (its jobs complete at once): status progressions, failure reasons,
 * quotas and stopping, at the SageMaker SDK boundary. S3 and SSM still go to moto.
 */
const NAME = 'fraud-train-sdk';
const ARTIFACT = `s3://fraud-dev-models/training/${NAME}/output/model.tar.gz`;
const METRIC_DEFINITIONS = JSON.parse(
  readFileSync(path.join(__dirname, '../../training/reference/metric_definitions.json'), 'utf8'),
);

function state(
  TrainingJobStatus: DescribeTrainingJobResponse['TrainingJobStatus'],
  SecondaryStatus: DescribeTrainingJobResponse['SecondaryStatus'],
  extra: Partial<DescribeTrainingJobResponse> = {},
): DescribeTrainingJobResponse {
  return {
    TrainingJobName: NAME,
    TrainingJobStatus,
    SecondaryStatus,
    ...extra,
  } as DescribeTrainingJobResponse;
}

describe('--mode sagemaker at the SDK boundary', () => {
  const { sagemaker, suite } = sageMakerBoundarySuite(ARTIFACT);

  const run = (runtime = recordingRuntime(DUMMY_CREDENTIALS), ...extra: string[]) =>
    main(
      [
        '--mode',
        'sagemaker',
        ...awsArgs(suite.moto, '--job-name', NAME, '--out', tempDir('bundle-'), ...extra),
      ],
      runtime,
    );

  const OBJECTIVE = '/ml-platform/fraud/dev/training/objective';
  /** Runs `use` while the team's `objective` training parameter holds `value`. */
  async function withObjective(value: string, use: () => Promise<void>) {
    await suite.moto.ssm.send(
      new PutParameterCommand({ Name: OBJECTIVE, Type: 'String', Value: value }),
    );
    try {
      await use();
    } finally {
      await suite.moto.ssm.send(new DeleteParameterCommand({ Name: OBJECTIVE }));
    }
  }

  test('sends the exact CreateTrainingJob request and reports progress until the bundle is down', async () => {
    // GIVEN a job that starts, downloads, trains (with metrics) and completes
    sagemaker.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: 'arn:job' });
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolvesOnce(
        state('InProgress', 'Starting', {
          SecondaryStatusTransitions: [
            {
              Status: 'Starting',
              StartTime: new Date(),
              StatusMessage: 'Launching requested ML instances',
            },
          ],
        }),
      )
      .resolvesOnce(state('InProgress', 'Starting'))
      .resolvesOnce(
        state('InProgress', 'Training', {
          FinalMetricDataList: [{ MetricName: 'validation:loss', Value: 0.41 }],
        }),
      )
      .resolvesOnce(
        state('InProgress', 'Training', {
          FinalMetricDataList: [{ MetricName: 'validation:loss', Value: 0.38 }],
        }),
      )
      .resolves(
        state('Completed', 'Completed', {
          ModelArtifacts: { S3ModelArtifacts: ARTIFACT },
          EnableManagedSpotTraining: true,
          TrainingTimeInSeconds: 600,
          BillableTimeInSeconds: 180,
        }),
      );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const out = tempDir('sm-sdk-');
    // WHEN
    const code = await run(runtime, '--hp', 'epochs=12', '--out', out, '--poll-seconds', '30');
    // THEN
    expect(code).toBe(0);
    expect(sagemaker.commandCalls(CreateTrainingJobCommand)[0].args[0].input).toEqual({
      TrainingJobName: NAME,
      RoleArn: 'arn:aws:iam::123456789012:role/fraud-dev-training',
      AlgorithmSpecification: {
        TrainingImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-trainer:1.0.0',
        TrainingInputMode: 'File',
        MetricDefinitions: METRIC_DEFINITIONS,
      },
      HyperParameters: { epochs: '12' },
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          DataSource: {
            S3DataSource: {
              S3DataType: 'S3Prefix',
              S3Uri: `s3://fraud-dev-data/features/training/${NAME}/train/`,
              S3DataDistributionType: 'FullyReplicated',
            },
          },
        },
      ],
      OutputDataConfig: { S3OutputPath: 's3://fraud-dev-models/training/', KmsKeyId: KMS_KEY },
      ResourceConfig: {
        InstanceType: 'ml.g5.xlarge',
        InstanceCount: 1,
        VolumeSizeInGB: 50,
        VolumeKmsKeyId: KMS_KEY,
      },
      StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 14400 },
      EnableManagedSpotTraining: true,
      CheckpointConfig: {
        S3Uri: `s3://fraud-dev-models/checkpoints/${NAME}/`,
        LocalPath: '/opt/ml/checkpoints',
      },
      VpcConfig: { SecurityGroupIds: ['sg-0ccc'], Subnets: ['subnet-0aaa', 'subnet-0bbb'] },
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      Tags: [
        { Key: 'ml-platform:team', Value: 'fraud' },
        { Key: 'ml-platform:stage', Value: 'dev' },
      ],
    });
    expect(sagemaker.commandCalls(DescribeTrainingJobCommand)).toHaveLength(5);
    expect(runtime.sleeps).toEqual([30_000, 30_000, 30_000, 30_000]);
    expect(runtime.err).toEqual(
      expect.arrayContaining([
        'InProgress / Starting: Launching requested ML instances',
        'InProgress / Training',
        'metrics: validation:loss=0.4100',
        'metrics: validation:loss=0.3800',
        'Completed / Completed',
        'training time 600s, billable 180s (managed spot saved 70%)',
      ]),
    );
    expect(runtime.err.filter((l) => l.startsWith('InProgress / Starting'))).toHaveLength(1);
    expect(runtime.out).toEqual([`model.tar.gz: ${ARTIFACT}`, path.join(out, 'model')]);
  });

  test('--on-demand and --instance-type override the team defaults', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolves(
        state('Completed', 'Completed', { ModelArtifacts: { S3ModelArtifacts: ARTIFACT } }),
      );
    expect(await run(undefined, '--on-demand', '--instance-type', 'ml.p4d.24xlarge')).toBe(0);
    const input = sagemaker.commandCalls(CreateTrainingJobCommand)[0].args[0].input;
    expect(input.EnableManagedSpotTraining).toBe(false);
    expect(input.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 7200 });
    expect(input.ResourceConfig?.InstanceType).toBe('ml.p4d.24xlarge');
  });

  test('passes the team objective (SSM objective parameter) to the trainer; flags override it', async () => {
    // GIVEN the team file's training.objective, published by the training stack
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolves(
        state('Completed', 'Completed', { ModelArtifacts: { S3ModelArtifacts: ARTIFACT } }),
      );
    await withObjective(
      '{"metric":"precision_at_recall","parameter":0.9,"target":0.85}',
      async () => {
        // WHEN
        expect(await run(undefined, '--objective-target', '0.8', '--cv', '3')).toBe(0);
        // THEN
        expect(
          sagemaker.commandCalls(CreateTrainingJobCommand)[0].args[0].input.HyperParameters,
        ).toEqual({
          objective_metric: 'precision_at_recall',
          objective_parameter: '0.9',
          objective_target: '0.8',
          cv_folds: '3',
        });
      },
    );
  });

  test('with the team’s tracking server: the MLflow variables, and network access instead of isolation', async () => {
    // GIVEN training.experimentTracking on: the stack publishes the server's ARN
    const arn = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlp-fraud-dev';
    const name = '/ml-platform/fraud/dev/training/mlflow/tracking-server-arn';
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolves(
        state('Completed', 'Completed', { ModelArtifacts: { S3ModelArtifacts: ARTIFACT } }),
      );
    await suite.moto.ssm.send(new PutParameterCommand({ Name: name, Type: 'String', Value: arn }));
    try {
      // WHEN
      expect(await run()).toBe(0);
    } finally {
      await suite.moto.ssm.send(new DeleteParameterCommand({ Name: name }));
    }
    // THEN
    const input = sagemaker.commandCalls(CreateTrainingJobCommand)[0].args[0].input;
    expect(input.Environment).toEqual({
      MLFLOW_TRACKING_URI: arn,
      MLFLOW_EXPERIMENT_NAME: 'fraud-dev',
      MLFLOW_RUN_NAME: NAME,
    });
    expect(input.EnableNetworkIsolation).toBe(false);
    expect(input.VpcConfig).toEqual({
      SecurityGroupIds: ['sg-0ccc'],
      Subnets: ['subnet-0aaa', 'subnet-0bbb'],
    });
  });

  test('fails before starting a job when the objective parameter is malformed', async () => {
    await withObjective('{"metric":"precision_at_recall","target":0.85}', async () => {
      const runtime = recordingRuntime(DUMMY_CREDENTIALS);
      expect(await run(runtime)).toBe(1);
      expect(runtime.err).toEqual([
        `error: SSM parameter ${OBJECTIVE} parameter: precision_at_recall needs a parameter: the minimum recall, in (0, 1]`,
      ]);
      expect(sagemaker.commandCalls(CreateTrainingJobCommand)).toHaveLength(0);
    });
  });

  test('fails with the job’s failure reason', async () => {
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolvesOnce(state('InProgress', 'Training'))
      .resolves(
        state('Failed', 'Failed', {
          FailureReason:
            "AlgorithmError: data check failed: column 'plan' is required but has 3 missing values",
        }),
      );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime)).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: training job ${NAME} failed: AlgorithmError: data check failed: column 'plan' is required but has 3 missing values`,
    );
    expect(runtime.out).toEqual([]);
  });

  test('fails with one line when the GPU quota is exhausted', async () => {
    sagemaker.on(CreateTrainingJobCommand).rejects(
      new ResourceLimitExceeded({
        $metadata: {},
        message:
          "The account-level service limit 'ml.g5.xlarge for spot training job usage' is 0 Instances",
      }),
    );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime)).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: quota exceeded while starting training job ${NAME}: The account-level service limit ` +
        "'ml.g5.xlarge for spot training job usage' is 0 Instances (request an increase in the Service Quotas " +
        'console, or pick another --instance-type)',
    );
    expect(sagemaker.commandCalls(DescribeTrainingJobCommand)).toHaveLength(0);
  });

  test('Ctrl-C, answered yes, stops the job and follows it until it has stopped', async () => {
    // GIVEN a Ctrl-C during the second poll and a user who says yes
    const runtime = recordingRuntime(DUMMY_CREDENTIALS, [true]);
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker.on(StopTrainingJobCommand).resolves({});
    let polls = 0;
    sagemaker.on(DescribeTrainingJobCommand).callsFake(() => {
      polls += 1;
      if (polls === 2) runtime.interrupt();
      if (sagemaker.commandCalls(StopTrainingJobCommand).length === 0)
        return state('InProgress', 'Training');
      return polls < 5 ? state('Stopping', 'Stopping') : state('Stopped', 'Stopped');
    });
    // WHEN
    const code = await run(runtime);
    // THEN
    expect(code).toBe(130);
    expect(sagemaker.commandCalls(StopTrainingJobCommand)[0].args[0].input).toEqual({
      TrainingJobName: NAME,
    });
    expect(runtime.err).toContain(
      `stopping training job ${NAME} (Ctrl-C again to leave without waiting)`,
    );
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: training job ${NAME} stopped on request`,
    );
  });

  test('Ctrl-C, answered no, leaves the job running', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS, [false]);
    sagemaker.on(CreateTrainingJobCommand).resolves({});
    sagemaker.on(DescribeTrainingJobCommand).callsFake(() => {
      runtime.interrupt();
      return state('InProgress', 'Training');
    });
    expect(await run(runtime)).toBe(130);
    expect(sagemaker.commandCalls(StopTrainingJobCommand)).toHaveLength(0);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: training job ${NAME} keeps running; see it with: aws sagemaker describe-training-job --training-job-name ${NAME}`,
    );
  });
});
