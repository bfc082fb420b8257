import {
  DescribeJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type JobDetail,
  type SubmitJobRequest,
} from '@aws-sdk/client-batch';
import { costAllocationTags } from '../../../constructs/monitoring/cost-allocation';
import { InterruptedError, JobFailedError, LauncherError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { aws, makeClients, type AwsClients } from '../lib/aws';
import { fetchBundle } from '../lib/bundle-output';
import { prepareAwsRun, uploadData } from '../lib/aws-run';
import { follow } from '../lib/follow';
import type { TrainingPlatform } from '../lib/platform';
import { readTextIfExists } from '../lib/s3';
import { s3Join } from '../lib/s3-uri';
import { trackingEnvironment } from '../lib/job-spec';

const DONE = new Set(['SUCCEEDED', 'FAILED']);

/**
 * The same trainer image on the team's Batch GPU queue. Batch does not stage S3 like
 * SageMaker, so the image's entry point (training/reference/entry.py) reads these
 * variables: it downloads the channels and checkpoints, runs the trainer, and uploads
 * model.tar.gz, checkpoints and the failure reason.
 */
export function submitJobRequest(
  name: string,
  platform: TrainingPlatform,
  dataPrefix: string,
  hyperparameters: Record<string, string>,
): SubmitJobRequest {
  return {
    jobName: name,
    jobQueue: platform.batchJobQueue,
    jobDefinition: platform.batchJobDefinition,
    containerOverrides: {
      environment: [
        { name: 'ML_INPUT_S3_URI', value: dataPrefix + '/' },
        { name: 'ML_OUTPUT_S3_URI', value: s3Join(platform.outputS3Uri, name, 'output') + '/' },
        { name: 'ML_CHECKPOINT_S3_URI', value: s3Join(platform.checkpointS3Uri, name) + '/' },
        { name: 'ML_KMS_KEY_ARN', value: platform.kmsKeyArn },
        { name: 'ML_HYPERPARAMETERS', value: JSON.stringify(hyperparameters) },
        ...(platform.trackingServerArn
          ? Object.entries(trackingEnvironment(platform, platform.trackingServerArn, name)).map(
              ([variable, value]) => ({ name: variable, value }),
            )
          : []),
      ],
    },
    // Spot reclaims surface as "Host EC2 ... terminated": retry those (the entry point
    // restores checkpoints), fail fast on anything else, such as a data check.
    retryStrategy: {
      attempts: 3,
      evaluateOnExit: [
        { onStatusReason: 'Host EC2*', action: 'RETRY' },
        { onReason: '*', action: 'EXIT' },
      ],
    },
    timeout: { attemptDurationSeconds: platform.maxRuntimeSeconds },
    propagateTags: true,
    tags: costAllocationTags(platform),
  };
}

function progress(job: JobDetail, previous: JobDetail | undefined): string[] {
  const lines: string[] = [];
  const attempt =
    (job.attempts?.length ?? 0) + (job.status === 'RUNNING' || job.status === 'STARTING' ? 1 : 0);
  if (job.status !== previous?.status) {
    lines.push(
      `${job.status}${job.statusReason ? `: ${job.statusReason}` : ''}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
    );
  }
  const stream = job.container?.logStreamName;
  if (stream && stream !== previous?.container?.logStreamName) {
    // The team's job definition names its own log group; /aws/batch/job is Batch's default.
    const group = job.container?.logConfiguration?.options?.['awslogs-group'] ?? '/aws/batch/job';
    lines.push(`logs: CloudWatch log group ${group}, stream ${stream}`);
  }
  return lines;
}

/** `--mode ec2`: submit the trainer container to the team's AWS Batch GPU queue, follow it, fetch the bundle. */
export async function trainEc2(
  options: Options,
  runtime: Runtime,
  clients: AwsClients = makeClients(options),
) {
  const run = await prepareAwsRun(options, runtime, clients, 'ec2', 'train');
  const { platform, name, dataPrefix } = run;
  await uploadData(run, options, runtime, clients);

  const request = submitJobRequest(name, platform, dataPrefix, run.hyperparameters);
  const submitted = await aws(`submitting Batch job ${name}`, () =>
    clients.batch.send(new SubmitJobCommand(request)),
  );
  const jobId = submitted.jobId;
  if (!jobId) throw new LauncherError(`AWS Batch returned no job id for ${name}`);
  runtime.stderr(`submitted Batch job ${name} (${jobId}) to ${platform.batchJobQueue}`);

  const { state: job, stoppedOnRequest } = await follow<JobDetail>(
    {
      what: `Batch job ${name}`,
      hint: `see it with: aws batch describe-jobs --jobs ${jobId}`,
      describe: async () => {
        const response = await aws(`describing Batch job ${name}`, () =>
          clients.batch.send(new DescribeJobsCommand({ jobs: [jobId] })),
        );
        const found = response.jobs?.[0];
        if (!found) throw new LauncherError(`Batch job ${jobId} not found`);
        return found;
      },
      report: progress,
      isDone: (state) => DONE.has(state.status ?? ''),
      stop: async () => {
        await aws(`terminating Batch job ${name}`, () =>
          clients.batch.send(
            new TerminateJobCommand({ jobId, reason: 'stopped from the training launcher' }),
          ),
        );
      },
    },
    runtime,
    options.pollSeconds * 1000,
  );

  const outputPrefix = s3Join(platform.outputS3Uri, name, 'output');
  if (job.status === 'FAILED') {
    if (stoppedOnRequest) throw new InterruptedError(`Batch job ${name} stopped on request`);
    const trainerReason = await aws(`reading the failure reason of ${name}`, () =>
      readTextIfExists(clients.s3, s3Join(outputPrefix, 'failure')),
    );
    const container = job.container;
    const detail =
      trainerReason?.trim() ||
      [
        job.statusReason,
        container?.reason,
        container?.exitCode !== undefined ? `exit code ${container.exitCode}` : '',
      ]
        .filter(Boolean)
        .join('; ');
    throw new JobFailedError(`Batch job ${name} failed: ${detail || 'no reason given'}`);
  }
  await fetchBundle(clients.s3, s3Join(outputPrefix, 'model.tar.gz'), options, runtime);
}
