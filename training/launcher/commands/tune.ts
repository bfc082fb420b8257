import {
  CreateHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  StopHyperParameterTuningJobCommand,
  type CreateHyperParameterTuningJobRequest,
  type DescribeHyperParameterTuningJobResponse,
  type ParameterRanges,
} from '@aws-sdk/client-sagemaker';
import { readFileSync } from 'node:fs';
import { InterruptedError, JobFailedError, UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { aws, makeClients, type AwsClients } from '../lib/aws';
import { fetchBundle } from '../lib/bundle-output';
import { prepareAwsRun, uploadData } from '../lib/aws-run';
import { follow } from '../lib/follow';
import { lowerIsBetter, type MetricDefinition } from '../lib/metric-definitions';
import type { TrainingPlatform } from '../lib/platform';
import { jobTags, trainingJobDefinition } from '../lib/job-spec';
import { launcherJobSpec } from '../lib/training-job';

/** The reference trainer's search space (names are its hyperparameters); --ranges replaces it. */
export const DEFAULT_RANGES: ParameterRanges = {
  ContinuousParameterRanges: [
    { Name: 'lr', MinValue: '0.0003', MaxValue: '0.03', ScalingType: 'Logarithmic' },
    { Name: 'weight_decay', MinValue: '0.000001', MaxValue: '0.01', ScalingType: 'Logarithmic' },
    { Name: 'dropout', MinValue: '0.0', MaxValue: '0.4', ScalingType: 'Linear' },
  ],
  IntegerParameterRanges: [
    { Name: 'batch_size', MinValue: '128', MaxValue: '4096', ScalingType: 'Logarithmic' },
  ],
  CategoricalParameterRanges: [
    { Name: 'hidden', Values: ['64,32', '128,64', '256,128', '256,128,64'] },
  ],
};

const RANGE_KINDS = [
  'ContinuousParameterRanges',
  'IntegerParameterRanges',
  'CategoricalParameterRanges',
] as const;
const DONE = new Set(['Completed', 'Failed', 'Stopped']);

export function loadRanges(file: string | undefined): ParameterRanges {
  if (!file) return DEFAULT_RANGES;
  let ranges: Record<string, unknown>;
  try {
    ranges = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot read --ranges ${file}: ${(err as Error).message}`);
  }
  for (const key of Object.keys(ranges)) {
    if (!(RANGE_KINDS as readonly string[]).includes(key)) {
      throw new UsageError(
        `--ranges ${file}: unknown key '${key}' (use ${RANGE_KINDS.join(', ')})`,
      );
    }
    if (!Array.isArray(ranges[key]))
      throw new UsageError(`--ranges ${file}: '${key}' must be a list`);
  }
  return ranges as ParameterRanges;
}

export function objectiveOf(metric: string, metrics: readonly MetricDefinition[]) {
  if (!metrics.some((m) => m.Name === metric)) {
    throw new UsageError(
      `--objective ${metric} is not a metric of the trainer: ${metrics.map((m) => m.Name).join(', ')}`,
    );
  }
  return {
    MetricName: metric,
    Type: lowerIsBetter(metric) ? ('Minimize' as const) : ('Maximize' as const),
  };
}

export function tuningJobRequest(
  name: string,
  platform: TrainingPlatform,
  options: Options,
  channelUris: Record<string, string>,
  staticHyperparameters: Record<string, string>,
): CreateHyperParameterTuningJobRequest {
  const spec = launcherJobSpec(platform, options);
  return {
    HyperParameterTuningJobName: name,
    HyperParameterTuningJobConfig: {
      Strategy: 'Bayesian',
      HyperParameterTuningJobObjective: objectiveOf(options.objective, spec.metricDefinitions),
      ResourceLimits: {
        MaxNumberOfTrainingJobs: options.maxJobs,
        MaxParallelTrainingJobs: options.parallelJobs,
      },
      ParameterRanges: loadRanges(options.ranges),
      TrainingJobEarlyStoppingType: 'Auto',
    },
    TrainingJobDefinition: {
      ...trainingJobDefinition(spec, channelUris, name),
      StaticHyperParameters: staticHyperparameters,
    },
    Tags: jobTags(platform),
  };
}

function progress(
  job: DescribeHyperParameterTuningJobResponse,
  previous: DescribeHyperParameterTuningJobResponse | undefined,
): string[] {
  const c = job.TrainingJobStatusCounters ?? {};
  const counters = `${c.Completed ?? 0} completed, ${c.InProgress ?? 0} running, ${
    (c.RetryableError ?? 0) + (c.NonRetryableError ?? 0)
  } failed, ${c.Stopped ?? 0} stopped`;
  const p = previous?.TrainingJobStatusCounters ?? {};
  const previousCounters = previous
    ? `${p.Completed ?? 0} completed, ${p.InProgress ?? 0} running, ${
        (p.RetryableError ?? 0) + (p.NonRetryableError ?? 0)
      } failed, ${p.Stopped ?? 0} stopped`
    : '';
  const lines: string[] = [];
  if (
    job.HyperParameterTuningJobStatus !== previous?.HyperParameterTuningJobStatus ||
    counters !== previousCounters
  ) {
    lines.push(`${job.HyperParameterTuningJobStatus}: ${counters}`);
  }
  const best = job.BestTrainingJob;
  if (best && best.TrainingJobName !== previous?.BestTrainingJob?.TrainingJobName) {
    const metric = best.FinalHyperParameterTuningJobObjectiveMetric;
    lines.push(`best so far: ${best.TrainingJobName} ${metric?.MetricName}=${metric?.Value}`);
  }
  return lines;
}

/** `tune`: Bayesian search over the declared ranges; reports the best job and fetches its bundle. */
export async function tune(
  options: Options,
  runtime: Runtime,
  clients: AwsClients = makeClients(options),
) {
  const run = await prepareAwsRun(options, runtime, clients, 'sagemaker', 'tune', 32);
  const { platform, name, hyperparameters: staticHyperparameters } = run;
  // Fail on a bad --objective or --ranges before uploading anything.
  tuningJobRequest(name, platform, options, {}, staticHyperparameters);
  const uris = await uploadData(run, options, runtime, clients);
  const request = tuningJobRequest(name, platform, options, uris, staticHyperparameters);
  await aws(`starting tuning job ${name}`, () =>
    clients.sagemaker.send(new CreateHyperParameterTuningJobCommand(request)),
  );
  const config = request.HyperParameterTuningJobConfig!;
  runtime.stderr(
    `started tuning job ${name}: ${config.ResourceLimits?.MaxNumberOfTrainingJobs} jobs, ` +
      `${config.ResourceLimits?.MaxParallelTrainingJobs} at a time, ${config.HyperParameterTuningJobObjective?.Type} ` +
      `${config.HyperParameterTuningJobObjective?.MetricName}`,
  );

  const { state: job, stoppedOnRequest } = await follow<DescribeHyperParameterTuningJobResponse>(
    {
      what: `tuning job ${name}`,
      hint: `see it with: aws sagemaker describe-hyper-parameter-tuning-job --hyper-parameter-tuning-job-name ${name}`,
      describe: () =>
        aws(`describing tuning job ${name}`, () =>
          clients.sagemaker.send(
            new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name }),
          ),
        ),
      report: progress,
      isDone: (state) => DONE.has(state.HyperParameterTuningJobStatus ?? ''),
      stop: async () => {
        await aws(`stopping tuning job ${name}`, () =>
          clients.sagemaker.send(
            new StopHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name }),
          ),
        );
      },
    },
    runtime,
    options.pollSeconds * 1000,
  );

  if (job.HyperParameterTuningJobStatus === 'Failed') {
    throw new JobFailedError(
      `tuning job ${name} failed: ${job.FailureReason ?? 'no reason given'}`,
    );
  }
  if (job.HyperParameterTuningJobStatus === 'Stopped' && stoppedOnRequest) {
    throw new InterruptedError(`tuning job ${name} stopped on request`);
  }
  const best = job.BestTrainingJob;
  if (!best?.TrainingJobName)
    throw new JobFailedError(`tuning job ${name} ended without a successful training job`);
  const metric = best.FinalHyperParameterTuningJobObjectiveMetric;
  runtime.stdout(`best training job: ${best.TrainingJobName}`);
  runtime.stdout(`objective: ${metric?.MetricName} = ${metric?.Value}`);
  runtime.stdout(
    `hyperparameters: ${Object.entries(best.TunedHyperParameters ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  const bestJob = await aws(`describing training job ${best.TrainingJobName}`, () =>
    clients.sagemaker.send(
      new DescribeTrainingJobCommand({ TrainingJobName: best.TrainingJobName }),
    ),
  );
  const artifact = bestJob.ModelArtifacts?.S3ModelArtifacts;
  if (!artifact)
    throw new JobFailedError(`best training job ${best.TrainingJobName} has no model artifacts`);
  await fetchBundle(clients.s3, artifact, options, runtime);
}
