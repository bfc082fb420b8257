import type { DescribeTrainingJobResponse } from '@aws-sdk/client-sagemaker';

/** Status, secondary status and latest metrics, only what changed since the last poll. */
export function trainingJobProgress(
  job: DescribeTrainingJobResponse,
  previous: DescribeTrainingJobResponse | undefined,
): string[] {
  const lines: string[] = [];
  if (
    job.TrainingJobStatus !== previous?.TrainingJobStatus ||
    job.SecondaryStatus !== previous?.SecondaryStatus
  ) {
    const transitions = job.SecondaryStatusTransitions ?? [];
    const message = transitions[transitions.length - 1]?.StatusMessage;
    lines.push(`${job.TrainingJobStatus} / ${job.SecondaryStatus}${message ? `: ${message}` : ''}`);
  }
  const metrics = formatMetrics(job);
  if (metrics && metrics !== formatMetrics(previous)) lines.push(`metrics: ${metrics}`);
  return lines;
}

function formatMetrics(job: DescribeTrainingJobResponse | undefined): string {
  return (job?.FinalMetricDataList ?? [])
    .map((m) => `${m.MetricName}=${Number(m.Value).toPrecision(4)}`)
    .join(' ');
}

export function billingSummary(job: DescribeTrainingJobResponse): string | undefined {
  const { TrainingTimeInSeconds: trained, BillableTimeInSeconds: billed } = job;
  if (!trained || billed === undefined) return undefined;
  const saved = job.EnableManagedSpotTraining
    ? ` (managed spot saved ${Math.round((1 - billed / trained) * 100)}%)`
    : '';
  return `training time ${trained}s, billable ${billed}s${saved}`;
}
