import {
  BatchClient,
  DescribeJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type JobDetail,
} from '@aws-sdk/client-batch';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import * as path from 'node:path';
import { main } from '../../training/launcher/main';
import { awsArgs, DUMMY_CREDENTIALS, KMS_KEY, putBundle, motoSuite } from './aws-fixtures';
import { recordingRuntime, tempDir } from './helpers';

/** moto's Batch runs jobs in Docker, which CI lacks: Batch is mocked at the SDK boundary, S3/SSM are moto. */
const NAME = 'fraud-train-batch';

function job(status: JobDetail['status'], extra: Partial<JobDetail> = {}): { jobs: JobDetail[] } {
  return { jobs: [{ jobId: 'job-123', jobName: NAME, status, ...extra } as JobDetail] };
}

describe('--mode ec2 (AWS Batch) at the SDK boundary', () => {
  const batch = mockClient(BatchClient);

  const suite = motoSuite();
  afterAll(() => {
    batch.restore();
  });
  beforeEach(() => {
    batch.reset();
    batch.on(SubmitJobCommand).resolves({ jobId: 'job-123', jobName: NAME });
  });

  const run = (runtime = recordingRuntime(DUMMY_CREDENTIALS), ...extra: string[]) =>
    main(
      [
        '--mode',
        'ec2',
        ...awsArgs(suite.moto, '--job-name', NAME, '--out', tempDir('bundle-'), ...extra),
      ],
      runtime,
    );

  test('submits the trainer to the team queue, follows it and downloads the bundle', async () => {
    await putBundle(suite.moto, `s3://fraud-dev-models/training/${NAME}/output/model.tar.gz`);
    batch
      .on(DescribeJobsCommand)
      .resolvesOnce(job('SUBMITTED'))
      .resolvesOnce(job('RUNNABLE'))
      .resolvesOnce(job('STARTING'))
      .resolvesOnce(
        job('RUNNING', {
          container: {
            logStreamName: 'fraud-dev-trainer/default/abc',
            // What DescribeJobs returns for the stack's job definition (awslogs driver).
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-group': '/ml-platform/fraud/dev/training' },
            },
          },
        }),
      )
      .resolves(job('SUCCEEDED', { statusReason: 'Essential container in task exited' }));
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    const out = tempDir('batch-out-');

    expect(await run(runtime, '--hp', 'lr=0.001', '--out', out)).toBe(0);

    expect(batch.commandCalls(SubmitJobCommand)[0].args[0].input).toEqual({
      jobName: NAME,
      jobQueue: 'arn:aws:batch:eu-west-1:123456789012:job-queue/fraud-dev-gpu',
      jobDefinition: 'arn:aws:batch:eu-west-1:123456789012:job-definition/fraud-dev-trainer:3',
      containerOverrides: {
        environment: [
          { name: 'ML_INPUT_S3_URI', value: `s3://fraud-dev-data/features/training/${NAME}/` },
          { name: 'ML_OUTPUT_S3_URI', value: `s3://fraud-dev-models/training/${NAME}/output/` },
          { name: 'ML_CHECKPOINT_S3_URI', value: `s3://fraud-dev-models/checkpoints/${NAME}/` },
          { name: 'ML_KMS_KEY_ARN', value: KMS_KEY },
          { name: 'ML_HYPERPARAMETERS', value: '{"lr":"0.001"}' },
        ],
      },
      retryStrategy: {
        attempts: 3,
        evaluateOnExit: [
          { onStatusReason: 'Host EC2*', action: 'RETRY' },
          { onReason: '*', action: 'EXIT' },
        ],
      },
      timeout: { attemptDurationSeconds: 7200 },
      propagateTags: true,
      tags: { 'ml-platform:team': 'fraud', 'ml-platform:stage': 'dev' },
    });
    expect(batch.commandCalls(DescribeJobsCommand).map((c) => c.args[0].input)).toEqual(
      Array(5).fill({ jobs: ['job-123'] }),
    );
    expect(runtime.sleeps).toEqual(Array(4).fill(15_000));
    expect(runtime.err).toEqual(
      expect.arrayContaining([
        'SUBMITTED',
        'RUNNABLE',
        'STARTING',
        'RUNNING',
        'logs: CloudWatch log group /ml-platform/fraud/dev/training, stream fraud-dev-trainer/default/abc',
        'SUCCEEDED: Essential container in task exited',
      ]),
    );
    expect(runtime.out[runtime.out.length - 1]).toBe(path.join(out, 'model'));
  });

  test('with the team’s tracking server, passes the MLflow variables to the container', async () => {
    const arn = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlp-fraud-dev';
    const name = '/ml-platform/fraud/dev/training/mlflow/tracking-server-arn';
    batch
      .on(DescribeJobsCommand)
      .resolves(job('FAILED', { statusReason: 'Essential container in task exited' }));
    await suite.moto.ssm.send(new PutParameterCommand({ Name: name, Type: 'String', Value: arn }));
    try {
      await run();
    } finally {
      await suite.moto.ssm.send(new DeleteParameterCommand({ Name: name }));
    }
    const { environment } =
      batch.commandCalls(SubmitJobCommand)[0].args[0].input.containerOverrides!;
    expect(environment!.slice(5)).toEqual([
      { name: 'MLFLOW_TRACKING_URI', value: arn },
      { name: 'MLFLOW_EXPERIMENT_NAME', value: 'fraud-dev' },
      { name: 'MLFLOW_RUN_NAME', value: NAME },
    ]);
  });

  test('fails with the trainer’s failure reason uploaded by the entry point', async () => {
    await suite.moto.s3.send(
      new PutObjectCommand({
        Bucket: 'fraud-dev-models',
        Key: `training/${NAME}/output/failure`,
        Body: "data check failed: label column 'outcome' has only one class ('stay')\n",
      }),
    );
    batch
      .on(DescribeJobsCommand)
      .resolves(job('FAILED', { statusReason: 'Essential container in task exited' }));
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime)).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      `error: Batch job ${NAME} failed: data check failed: label column 'outcome' has only one class ('stay')`,
    );
  });

  test('without a trainer failure file, reports Batch’s reason and the exit code', async () => {
    batch.on(DescribeJobsCommand).resolves(
      job('FAILED', {
        jobName: 'other',
        statusReason: 'Essential container in task exited',
        container: {
          reason: 'OutOfMemoryError: Container killed due to memory usage',
          exitCode: 137,
        },
      }),
    );
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await run(runtime, '--job-name', 'fraud-train-oom')).toBe(1);
    expect(runtime.err[runtime.err.length - 1]).toBe(
      'error: Batch job fraud-train-oom failed: Essential container in task exited; ' +
        'OutOfMemoryError: Container killed due to memory usage; exit code 137',
    );
  });

  test('Ctrl-C, answered yes, terminates the job', async () => {
    const runtime = recordingRuntime(DUMMY_CREDENTIALS, [true]);
    batch.on(TerminateJobCommand).resolves({});
    batch.on(DescribeJobsCommand).callsFake(() => {
      if (batch.commandCalls(TerminateJobCommand).length > 0)
        return job('FAILED', { statusReason: 'stopped from the training launcher' });
      runtime.interrupt();
      return job('RUNNING');
    });
    expect(await run(runtime)).toBe(130);
    expect(batch.commandCalls(TerminateJobCommand)[0].args[0].input).toEqual({
      jobId: 'job-123',
      reason: 'stopped from the training launcher',
    });
    expect(runtime.err[runtime.err.length - 1]).toBe(`error: Batch job ${NAME} stopped on request`);
  });
});
