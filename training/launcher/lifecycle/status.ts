import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  type SERVING_DIMENSIONS,
  SERVING_METRICS,
  SERVING_METRICS_NAMESPACE,
  SERVING_VERSION_DIMENSIONS,
  VERSION_DIMENSION,
} from '../../../constructs/monitoring/serving-metrics';
import type { AliasName } from '../../../serving/src/store/layout';
import { aws } from '../lib/aws';
import type { Lifecycle } from './context';
import { listPackages } from './registry';
import { readAlias } from './store';

export interface VersionStatus {
  readonly version: string;
  readonly alias: AliasName;
  /** Share of requests this version gets, 0..100. */
  readonly trafficPercent: number;
  readonly updatedAt?: string;
  readonly updatedBy?: string;
  readonly reason?: string;
  /** Over the window; undefined when CloudWatch has no data point. */
  readonly requests?: number;
  readonly errorRate?: number;
  readonly latencyP99Ms?: number;
  readonly meanConfidence?: number;
  /** The model package's approval, or 'unregistered'. */
  readonly approval: string;
}

export interface StatusReport {
  readonly model: string;
  readonly minutes: number;
  readonly versions: readonly VersionStatus[];
}

type Series = 'requests' | 'errors' | 'latency' | 'confidence' | 'predictions' | 'lowConfidence';
const QUERIES: readonly [Series, string, string][] = [
  ['requests', SERVING_METRICS.requests, 'Sum'],
  ['errors', SERVING_METRICS.errors, 'Sum'],
  ['latency', SERVING_METRICS.latencyP99, 'Maximum'],
  ['confidence', SERVING_METRICS.meanConfidence, 'Average'],
  ['predictions', SERVING_METRICS.predictions, 'Sum'],
  ['lowConfidence', SERVING_METRICS.lowConfidencePredictions, 'Sum'],
];

/**
 * The service's own per-version metrics over the last `minutes` (one period: the window):
 * `npm run model -- status` and the retraining pipeline's canary check read them.
 */
export async function versionMetrics(
  cloudwatch: CloudWatchClient,
  dimensions: Record<(typeof SERVING_DIMENSIONS)[number], string>,
  versions: readonly string[],
  minutes: number,
  now: Date,
): Promise<Map<string, Partial<Record<Series, number>>>> {
  const queries: MetricDataQuery[] = versions.flatMap((version, v) =>
    QUERIES.map(([series, metric, stat]) => ({
      Id: `${series}${v}`,
      MetricStat: {
        Metric: {
          Namespace: SERVING_METRICS_NAMESPACE,
          MetricName: metric,
          Dimensions: SERVING_VERSION_DIMENSIONS.map((Name) => ({
            Name,
            Value: Name === VERSION_DIMENSION ? version : dimensions[Name],
          })),
        },
        Period: minutes * 60,
        Stat: stat,
      },
    })),
  );
  const result = new Map<string, Partial<Record<Series, number>>>(versions.map((v) => [v, {}]));
  if (queries.length === 0) return result;
  const res = await aws('reading the service metrics from CloudWatch', () =>
    cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - minutes * 60_000),
        EndTime: now,
        MetricDataQueries: queries,
      }),
    ),
  );
  for (const r of res.MetricDataResults ?? []) {
    const [, series, index] = /^([a-zA-Z]+)(\d+)$/.exec(r.Id ?? '') ?? [];
    const values = r.Values ?? [];
    if (!series || values.length === 0) continue;
    const combine = series === 'latency' ? 'max' : series === 'confidence' ? 'mean' : 'sum';
    const value =
      combine === 'sum'
        ? values.reduce((a, b) => a + b, 0)
        : combine === 'max'
          ? Math.max(...values)
          : values.reduce((a, b) => a + b, 0) / values.length;
    result.get(versions[Number(index)])![series as Series] = value;
  }
  return result;
}

/**
 * What serves now: production and the candidate (when it has a share), each with its traffic
 * share, its requests, error rate, p99 latency and mean confidence over the last `minutes`
 * (from the service's per-version CloudWatch metrics) and its registry approval.
 */
export async function status(
  ctx: Lifecycle,
  cloudwatch: CloudWatchClient,
  team: { team: string; stage: string },
  minutes: number,
): Promise<StatusReport> {
  const { store, registry } = ctx;
  const [production, candidate] = await Promise.all([
    readAlias(store, 'production'),
    readAlias(store, 'candidate'),
  ]);
  const canary =
    candidate.alias?.traffic_percent && candidate.alias.version !== production.alias?.version
      ? candidate.alias
      : undefined;
  const serving: { alias: AliasName; file: NonNullable<typeof production.alias>; share: number }[] =
    [];
  if (production.alias)
    serving.push({
      alias: 'production',
      file: production.alias,
      share: 100 - (canary?.traffic_percent ?? 0),
    });
  if (canary) serving.push({ alias: 'candidate', file: canary, share: canary.traffic_percent! });

  const versions = serving.map((s) => s.file.version);
  const wanted = new Set(versions);
  const [metrics, packages] = await Promise.all([
    versionMetrics(
      cloudwatch,
      { Team: team.team, Stage: team.stage, Model: store.modelName },
      versions,
      minutes,
      ctx.now(),
    ),
    wanted.size ? listPackages(registry) : Promise.resolve([]),
  ]);
  return {
    model: store.modelName,
    minutes,
    versions: serving.map(({ alias, file, share }) => {
      const m = metrics.get(file.version) ?? {};
      const pkg = packages.find((p) => p.version === file.version);
      return {
        version: file.version,
        alias,
        trafficPercent: share,
        updatedAt: file.updated_at,
        updatedBy: file.updated_by,
        reason: file.reason,
        requests: m.requests,
        errorRate: m.requests ? (m.errors ?? 0) / m.requests : undefined,
        latencyP99Ms: m.latency,
        meanConfidence: m.confidence,
        approval: pkg?.status ?? 'unregistered',
      };
    }),
  };
}
