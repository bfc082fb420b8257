import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
  type DescribeTrainingJobResponse,
} from '@aws-sdk/client-sagemaker';
import { InterruptedError, JobFailedError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { aws, makeClients, type AwsClients } from '../lib/aws';
import { fetchBundle } from '../lib/bundle-output';
import { prepareAwsRun, uploadData } from '../lib/aws-run';
import { follow } from '../lib/follow';
import { billingSummary, trainingJobProgress } from '../lib/sagemaker-progress';
import { createTrainingJobRequest } from '../lib/job-spec';
import { launcherJobSpec } from '../lib/training-job';

const DONE = new Set(['Completed', 'Failed', 'Stopped']);

/** `--mode sagemaker`: upload the data, start a training job with the team's settings, follow it, fetch the bundle. */
export async function trainSageMaker(
  options: Options,
  runtime: Runtime,
  clients: AwsClients = makeClients(options),
) {
  const run = await prepareAwsRun(options, runtime, clients, 'sagemaker', 'train');
  const { platform, name } = run;
  const uris = await uploadData(run, options, runtime, clients);

  const request = createTrainingJobRequest(launcherJobSpec(platform, options), {
    name,
    channelUris: uris,
    hyperparameters: run.hyperparameters,
  });
  await aws(`starting training job ${name}`, () =>
    clients.sagemaker.send(new CreateTrainingJobCommand(request)),
  );
  const instance = request.ResourceConfig?.InstanceType;
  runtime.stderr(
    `started training job ${name} on ${instance}${request.EnableManagedSpotTraining ? ' (managed spot)' : ''}: ` +
      `https://${clients.region}.console.aws.amazon.com/sagemaker/home?region=${clients.region}#/jobs/${name}`,
  );

  const { state: job, stoppedOnRequest } = await follow<DescribeTrainingJobResponse>(
    {
      what: `training job ${name}`,
      hint: `see it with: aws sagemaker describe-training-job --training-job-name ${name}`,
      describe: () =>
        aws(`describing training job ${name}`, () =>
          clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
        ),
      report: trainingJobProgress,
      isDone: (state) => DONE.has(state.TrainingJobStatus ?? ''),
      stop: async () => {
        await aws(`stopping training job ${name}`, () =>
          clients.sagemaker.send(new StopTrainingJobCommand({ TrainingJobName: name })),
        );
      },
    },
    runtime,
    options.pollSeconds * 1000,
  );

  const billing = billingSummary(job);
  if (billing) runtime.stderr(billing);
  if (job.TrainingJobStatus === 'Failed') {
    throw new JobFailedError(
      `training job ${name} failed: ${job.FailureReason ?? 'no reason given'}`,
    );
  }
  if (job.TrainingJobStatus === 'Stopped') {
    if (stoppedOnRequest) throw new InterruptedError(`training job ${name} stopped on request`);
    throw new JobFailedError(
      `training job ${name} was stopped${job.FailureReason ? `: ${job.FailureReason}` : ''}`,
    );
  }
  const artifact = job.ModelArtifacts?.S3ModelArtifacts;
  if (!artifact) throw new JobFailedError(`training job ${name} completed without model artifacts`);
  await fetchBundle(clients.s3, artifact, options, runtime);
}
