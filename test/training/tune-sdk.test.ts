import {
  CreateHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  StopHyperParameterTuningJobCommand,
  type DescribeHyperParameterTuningJobResponse,
} from '@aws-sdk/client-sagemaker';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_RANGES } from '../../training/launcher/commands/tune';
import { main } from '../../training/launcher/main';
import { awsArgs, DUMMY_CREDENTIALS, KMS_KEY, sageMakerBoundarySuite } from './aws-fixtures';
import { recordingRuntime, tempDir } from './helpers';

/** Tuning at the SageMaker SDK boundary (suite.moto's tuning jobs are static stubs); S3/SSM are moto. */
const NAME = 'fraud-tune-1';
const BEST = 'fraud-tune-1-007-abc';
const ARTIFACT = `s3://fraud-dev-models/training/${BEST}/output/model.tar.gz`;

function tuning(
  status: DescribeHyperParameterTuningJobResponse['HyperParameterTuningJobStatus'],
  completed: number,
  extra: Partial<DescribeHyperParameterTuningJobResponse> = {},
) {
  return {
    HyperParameterTuningJobName: NAME,
    HyperParameterTuningJobStatus: status,
    TrainingJobStatusCounters: {
      Completed: completed,
      InProgress: 3,
      RetryableError: 0,
      NonRetryableError: 0,
      Stopped: 0,
    },
    ...extra,
  } as DescribeHyperParameterTuningJobResponse;
}

const best = {
  TrainingJobName: BEST,
  TrainingJobArn: `arn:aws:sagemaker:eu-west-1:123456789012:training-job/${BEST}`,
  TrainingJobStatus: 'Completed',
  CreationTime: new Date('2026-11-26T10:00:00Z'),
  TunedHyperParameters: { lr: '0.0042', hidden: '128,64' },
  FinalHyperParameterTuningJobObjectiveMetric: { MetricName: 'validation:loss', Value: 0.3712 },
} as DescribeHyperParameterTuningJobResponse['BestTrainingJob'];

describe('tune at the SDK boundary', () => {
  const { sagemaker, suite } = sageMakerBoundarySuite(ARTIFACT);

  const run = (runtime = recordingRuntime(DUMMY_CREDENTIALS), ...extra: string[]) =>
    main(
      ['tune', ...awsArgs(suite.moto, '--job-name', NAME, '--out', tempDir('bundle-'), ...extra)],
      runtime,
    );

  test('starts a Bayesian tuning job over the declared ranges and reports the best job', async () => {
    sagemaker.on(CreateHyperParameterTuningJobCommand).resolves({});
    sagemaker
      .on(DescribeHyperParameterTuningJobCommand)
      .resolvesOnce(tuning('InProgress', 0))
      .resolvesOnce(tuning('InProgress', 4, { BestTrainingJob: best }))
      .resolves(tuning('Completed', 12, { BestTrainingJob: best }));
    sagemaker
      .on(DescribeTrainingJobCommand, { TrainingJobName: BEST })
      .resolves({ ModelArtifacts: { S3ModelArtifacts: ARTIFACT } });
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const out = tempDir('tune-out-');

    expect(
      await run(
        runtime,
        '--max-jobs',
        '12',
        '--parallel-jobs',
        '3',
        '--hp',
        'epochs=30',
        '--out',
        out,
      ),
    ).toBe(0);

    const input = sagemaker.commandCalls(CreateHyperParameterTuningJobCommand)[0].args[0].input;
    expect(input.HyperParameterTuningJobName).toBe(NAME);
    expect(input.HyperParameterTuningJobConfig).toEqual({
      Strategy: 'Bayesian',
      HyperParameterTuningJobObjective: { MetricName: 'validation:loss', Type: 'Minimize' },
      ResourceLimits: { MaxNumberOfTrainingJobs: 12, MaxParallelTrainingJobs: 3 },
      ParameterRanges: DEFAULT_RANGES,
      TrainingJobEarlyStoppingType: 'Auto',
    });
    expect(input.TrainingJobDefinition).toMatchObject({
      StaticHyperParameters: { epochs: '30' },
      RoleArn: 'arn:aws:iam::123456789012:role/fraud-dev-training',
      EnableManagedSpotTraining: true,
      OutputDataConfig: { KmsKeyId: KMS_KEY },
      CheckpointConfig: { S3Uri: `s3://fraud-dev-models/checkpoints/${NAME}/` },
      InputDataConfig: [expect.objectContaining({ ChannelName: 'train' })],
    });
    expect(runtime.err).toEqual(
      expect.arrayContaining([
        'InProgress: 0 completed, 3 running, 0 failed, 0 stopped',
        `best so far: ${BEST} validation:loss=0.3712`,
        'Completed: 12 completed, 3 running, 0 failed, 0 stopped',
      ]),
    );
    expect(runtime.out).toEqual([
      `best training job: ${BEST}`,
      'objective: validation:loss = 0.3712',
      'hyperparameters: lr=0.0042 hidden=128,64',
      `model.tar.gz: ${ARTIFACT}`,
      path.join(out, 'model'),
    ]);
  });

  test('a maximised objective and ranges from a file', async () => {
    sagemaker.on(CreateHyperParameterTuningJobCommand).resolves({});
    sagemaker
      .on(DescribeHyperParameterTuningJobCommand)
      .resolves(tuning('Completed', 1, { BestTrainingJob: best }));
    sagemaker
      .on(DescribeTrainingJobCommand)
      .resolves({ ModelArtifacts: { S3ModelArtifacts: ARTIFACT } });
    const file = path.join(tempDir('ranges-'), 'ranges.json');
    const ranges = {
      ContinuousParameterRanges: [
        { Name: 'lr', MinValue: '0.001', MaxValue: '0.1', ScalingType: 'Logarithmic' },
      ],
    };
    writeFileSync(file, JSON.stringify(ranges));
    expect(await run(undefined, '--objective', 'validation:roc_auc', '--ranges', file)).toBe(0);
    const config = sagemaker.commandCalls(CreateHyperParameterTuningJobCommand)[0].args[0].input
      .HyperParameterTuningJobConfig;
    expect(config?.HyperParameterTuningJobObjective).toEqual({
      MetricName: 'validation:roc_auc',
      Type: 'Maximize',
    });
    expect(config?.ParameterRanges).toEqual(ranges);
  });

  test('fails on an objective the trainer does not report, before uploading anything', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime, '--objective', 'validation:auc')).toBe(2);
    expect(runtime.err[0]).toMatch(
      /^error: --objective validation:auc is not a metric of the trainer: train:loss, /,
    );
    expect(sagemaker.commandCalls(CreateHyperParameterTuningJobCommand)).toHaveLength(0);
  });

  test('fails with the tuning job’s failure reason', async () => {
    sagemaker.on(CreateHyperParameterTuningJobCommand).resolves({});
    sagemaker.on(DescribeHyperParameterTuningJobCommand).resolves(
      tuning('Failed', 0, {
        FailureReason: 'All training jobs failed: ClientError: data check failed',
      }),
    );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime)).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: tuning job ${NAME} failed: All training jobs failed: ClientError: data check failed`,
    );
  });

  test('Ctrl-C, answered yes, stops the tuning job', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS, [true]);
    sagemaker.on(CreateHyperParameterTuningJobCommand).resolves({});
    sagemaker.on(StopHyperParameterTuningJobCommand).resolves({});
    sagemaker.on(DescribeHyperParameterTuningJobCommand).callsFake(() => {
      if (sagemaker.commandCalls(StopHyperParameterTuningJobCommand).length > 0)
        return tuning('Stopped', 2);
      runtime.interrupt();
      return tuning('InProgress', 1);
    });
    expect(await run(runtime)).toBe(130);
    expect(sagemaker.commandCalls(StopHyperParameterTuningJobCommand)[0].args[0].input).toEqual({
      HyperParameterTuningJobName: NAME,
    });
  });
});
