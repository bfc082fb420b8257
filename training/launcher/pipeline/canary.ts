/**
 * The canary check: the candidate version's own figures against production's over the bake
 * window (both from the service's per-version CloudWatch series). Pure: the Lambda reads the
 * figures (./handlers.ts) and this decides.
 */

/** One version's totals over the window. */
export interface VersionFigures {
  readonly requests: number;
  readonly errors: number;
  /** Largest per-pod p99 over the window, ms; undefined without a data point. */
  readonly latencyP99Ms?: number;
  readonly predictions: number;
  readonly lowConfidencePredictions: number;
}

export interface CanaryPolicy {
  /** Requests the candidate must answer for its figures to count. */
  readonly minCanaryRequests: number;
  /** Candidate error rate may exceed production's by at most this share. */
  readonly maxErrorRateIncrease: number;
  /** Candidate p99 may exceed production's by at most this share of it. */
  readonly maxLatencyIncrease: number;
  /** Candidate low-confidence share may exceed production's by at most this. */
  readonly maxLowConfidenceIncrease: number;
  /** The team's alarm thresholds: a candidate above them fails whatever production does. */
  readonly errorRateThreshold: number;
  readonly latencyP99Ms: number;
}

export type CanaryOutcome = 'healthy' | 'unhealthy' | 'low-traffic';

export interface CanaryFigures {
  readonly requests: number;
  readonly errorRate: number;
  readonly latencyP99Ms?: number;
  readonly lowConfidenceShare: number;
}

export interface CanaryVerdict {
  readonly outcome: CanaryOutcome;
  readonly reason: string;
  readonly candidate: CanaryFigures;
  readonly production: CanaryFigures;
}

const pct = (v: number) => `${Number((v * 100).toPrecision(3))}%`;
const ms = (v: number) => `${Number(v.toPrecision(4))} ms`;

export function figures(f: VersionFigures): CanaryFigures {
  return {
    requests: f.requests,
    errorRate: f.requests > 0 ? f.errors / f.requests : 0,
    ...(f.latencyP99Ms !== undefined ? { latencyP99Ms: f.latencyP99Ms } : {}),
    lowConfidenceShare: f.predictions > 0 ? f.lowConfidencePredictions / f.predictions : 0,
  };
}

export function judgeCanary(
  candidateTotals: VersionFigures,
  productionTotals: VersionFigures,
  policy: CanaryPolicy,
  minutes: number,
): CanaryVerdict {
  const candidate = figures(candidateTotals);
  const production = figures(productionTotals);
  const verdict = (outcome: CanaryOutcome, reason: string): CanaryVerdict => ({
    outcome,
    reason,
    candidate,
    production,
  });
  if (candidate.requests < policy.minCanaryRequests)
    return verdict(
      'low-traffic',
      `the candidate answered ${candidate.requests} requests in ${minutes} minutes, fewer than the ${policy.minCanaryRequests} needed to judge it (pipeline.minCanaryRequests)`,
    );
  const errorBar = Math.min(
    production.errorRate + policy.maxErrorRateIncrease,
    policy.errorRateThreshold,
  );
  if (candidate.errorRate > errorBar)
    return verdict(
      'unhealthy',
      `error rate ${pct(candidate.errorRate)} above ${pct(errorBar)} ` +
        (errorBar === policy.errorRateThreshold
          ? '(monitoring.errorRateThreshold)'
          : `(production ${pct(production.errorRate)} + pipeline.canary.maxErrorRateIncrease ${policy.maxErrorRateIncrease})`),
    );
  if (candidate.latencyP99Ms !== undefined) {
    const latencyBar = Math.min(
      production.latencyP99Ms !== undefined
        ? production.latencyP99Ms * (1 + policy.maxLatencyIncrease)
        : Infinity,
      policy.latencyP99Ms,
    );
    if (candidate.latencyP99Ms > latencyBar)
      return verdict(
        'unhealthy',
        `p99 latency ${ms(candidate.latencyP99Ms)} above ${ms(latencyBar)} ` +
          (latencyBar === policy.latencyP99Ms
            ? '(serving.latencyP99Ms)'
            : `(production ${ms(production.latencyP99Ms!)} x (1 + pipeline.canary.maxLatencyIncrease ${policy.maxLatencyIncrease}))`),
      );
  }
  const confidenceBar = production.lowConfidenceShare + policy.maxLowConfidenceIncrease;
  if (candidate.lowConfidenceShare > confidenceBar)
    return verdict(
      'unhealthy',
      `low-confidence share ${pct(candidate.lowConfidenceShare)} above ${pct(confidenceBar)} ` +
        `(production ${pct(production.lowConfidenceShare)} + pipeline.canary.maxLowConfidenceIncrease ${policy.maxLowConfidenceIncrease})`,
    );
  return verdict(
    'healthy',
    `${candidate.requests} requests in ${minutes} minutes: error rate ${pct(candidate.errorRate)} (production ${pct(production.errorRate)}), ` +
      `p99 ${candidate.latencyP99Ms !== undefined ? ms(candidate.latencyP99Ms) : 'no data'} (production ${production.latencyP99Ms !== undefined ? ms(production.latencyP99Ms) : 'no data'}), ` +
      `low confidence ${pct(candidate.lowConfidenceShare)} (production ${pct(production.lowConfidenceShare)})`,
  );
}
