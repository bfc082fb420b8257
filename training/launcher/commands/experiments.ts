import {
  SearchCommand,
  type SearchCommandInput,
  type TrainingJob,
} from '@aws-sdk/client-sagemaker';
import { UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { aws, makeClients, type AwsClients } from '../lib/aws';
import { lowerIsBetter } from '../lib/metric-definitions';
import { loadPlatform } from '../lib/platform';
import { trainingJobNamePrefix } from '../../../lib/naming';

/** One training run of the team, as `experiments` reports it. */
export interface ExperimentRun {
  readonly name: string;
  readonly status: string;
  /** ISO 8601, UTC. */
  readonly created: string;
  readonly hyperparameters: Record<string, string>;
  /** Final value of each metric the job reported (FinalMetricDataList). */
  readonly metrics: Record<string, number>;
}

/** Search pages hold at most 100 results. */
const PAGE_SIZE = 100;

/**
 * SageMaker Search for the team's training jobs: the name filter is "Contains" (Search has no
 * prefix operator), so the caller keeps only names that start with the prefix. Sorting by a
 * metric uses Search's `Metrics.<name>` sort key, best first.
 */
export function searchRequest(
  prefix: string,
  options: Pick<Options, 'sortBy' | 'maxResults'>,
  NextToken?: string,
): SearchCommandInput {
  const metric = options.sortBy;
  return {
    Resource: 'TrainingJob',
    SearchExpression: {
      Filters: [{ Name: 'TrainingJobName', Operator: 'Contains', Value: prefix }],
    },
    SortBy: metric ? `Metrics.${metric}` : 'CreationTime',
    SortOrder: metric && lowerIsBetter(metric) ? 'Ascending' : 'Descending',
    MaxResults: Math.min(PAGE_SIZE, options.maxResults),
    ...(NextToken ? { NextToken } : {}),
  };
}

/** What SageMaker adds to the trainer's hyperparameters (tuning objective, SDK internals). */
const isInternal = (key: string) => key.startsWith('_') || key.startsWith('sagemaker_');

export function experimentRun(job: TrainingJob): ExperimentRun {
  return {
    name: job.TrainingJobName ?? '',
    status: job.TrainingJobStatus ?? 'Unknown',
    created: job.CreationTime ? new Date(job.CreationTime).toISOString() : '',
    hyperparameters: Object.fromEntries(
      Object.entries(job.HyperParameters ?? {})
        .filter(([key]) => !isInternal(key))
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
    metrics: Object.fromEntries(
      (job.FinalMetricDataList ?? [])
        .filter((m) => m.MetricName !== undefined && m.Value !== undefined)
        .map((m) => [m.MetricName!, m.Value!]),
    ),
  };
}

/**
 * Best first by `metric` (runs without it last), else newest first. Search sorts too; this
 * keeps the order whatever a page boundary or an emulator does.
 */
export function sortRuns(runs: ExperimentRun[], metric: string | undefined): ExperimentRun[] {
  const sign = metric && lowerIsBetter(metric) ? 1 : -1;
  return [...runs].sort((a, b) => {
    if (metric) {
      const [x, y] = [a.metrics[metric], b.metrics[metric]];
      if (x === undefined || y === undefined) {
        if (x !== y) return x === undefined ? 1 : -1;
      } else if (x !== y) return sign * (x - y);
    }
    return b.created.localeCompare(a.created) || a.name.localeCompare(b.name);
  });
}

const DECIMALS = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** A plain table for people: one run a line, metric columns (the sort metric first), then hyperparameters. */
export function runsTable(runs: ExperimentRun[], metric: string | undefined): string[] {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const metrics = metric ? [metric, ...names.filter((n) => n !== metric)] : names;
  const rows = [
    ['JOB', 'STATUS', 'CREATED', ...metrics, 'HYPERPARAMETERS'],
    ...runs.map((r) => [
      r.name,
      r.status,
      r.created.slice(0, 16).replace('T', ' '),
      ...metrics.map((m) => (r.metrics[m] === undefined ? '-' : DECIMALS.format(r.metrics[m]))),
      Object.entries(r.hyperparameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '-',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** `experiments`: the team's training runs with hyperparameters and final metrics, from SageMaker Search. */
export async function experiments(
  options: Options,
  runtime: Runtime,
  clients: AwsClients = makeClients(options),
) {
  if (!Number.isInteger(options.maxResults))
    throw new UsageError(`--max-results must be a whole number, got ${options.maxResults}`);
  if (options.sortBy !== undefined && !/^[A-Za-z0-9_.:/-]+$/.test(options.sortBy))
    throw new UsageError(
      `--sort-by '${options.sortBy}' is not a metric name (e.g. validation:loss)`,
    );
  const platform = await loadPlatform(
    clients.ssm,
    options.team,
    options.stage,
    clients.region,
    'experiments',
  );
  const prefix = trainingJobNamePrefix(platform);
  const runs: ExperimentRun[] = [];
  let NextToken: string | undefined;
  do {
    const page = await aws(`searching the training jobs ${prefix}*`, () =>
      clients.sagemaker.send(new SearchCommand(searchRequest(prefix, options, NextToken))),
    );
    for (const result of page.Results ?? []) {
      const job = result.TrainingJob;
      if (job?.TrainingJobName?.startsWith(prefix)) runs.push(experimentRun(job));
    }
    NextToken = page.NextToken || undefined;
  } while (NextToken && runs.length < options.maxResults);

  const shown = sortRuns(runs, options.sortBy).slice(0, options.maxResults);
  if (options.json) {
    runtime.stdout(JSON.stringify(shown, null, 2));
    return;
  }
  if (shown.length === 0) {
    runtime.stderr(`no training jobs named ${prefix}* in ${clients.region}`);
    return;
  }
  for (const line of runsTable(shown, options.sortBy)) runtime.stdout(line);
}
