import {
  describeObjective,
  improvement,
  isObjectiveMetric,
  meetsTarget,
  QualityRecordError,
  verdictOf,
  type ObjectiveMetric,
  type ObjectiveRecord,
} from '../../../serving/src/bundle/quality';

/**
 * The retraining gate: may a freshly trained candidate go on to publish and canary? It compares
 * the candidate's manifest metrics with production's (docs/configuration.md, "pipeline").
 *
 * - Primary metric (the team's objective): the candidate must reach
 *   `production x (1 - promotionMargin)` (higher-is-better metrics) or
 *   `production x (1 + promotionMargin)` (lower-is-better ones). `promotionMargin` is a
 *   tolerance, a share of production's value: 0 asks for at least production's value, 0.005
 *   accepts a candidate half a percent worse (a retrain on fresh data is worth it).
 * - `primaryFloor`: an absolute floor every candidate must reach. A first model (no production)
 *   must reach `primaryFloor`, else the objective's target; with neither set it must beat its
 *   baselines.
 * - Segments (`metrics.segments`, judged on the objective's metric where segments record it,
 *   else accuracy; segments with fewer than `minSegmentRows` test rows are skipped): none may
 *   fall below `segmentFloor`, and none may be worse than production's same segment by more
 *   than `maxSegmentRegression` points (metric units: 0.02 on a 0..1 metric is 2 points).
 *
 * A manifest whose metrics are missing or malformed throws GateInputError: nothing is promoted.
 */
export interface GatePolicy {
  readonly promotionMargin: number;
  readonly primaryFloor?: number;
  readonly segmentFloor?: number;
  readonly maxSegmentRegression: number;
  readonly minSegmentRows: number;
}

/** One line of the gate table (the notification prints it). */
export interface GateRow {
  /** `f1`, `segment region=eu (accuracy)`, … */
  readonly check: string;
  readonly candidate: number;
  readonly production?: number;
  /** What the candidate had to reach, as people read it: `>= 0.5274`. */
  readonly required: string;
  readonly passed: boolean;
}

export interface GateResult {
  readonly passed: boolean;
  /** The first failed check, or a summary of the pass: the exact words the notification uses. */
  readonly reason: string;
  readonly objective: string;
  readonly rows: readonly GateRow[];
}

/** The candidate's or production's metrics cannot be judged: the execution fails. */
export class GateInputError extends Error {
  override readonly name = 'GateInputError';
}

type Metrics = { metrics?: Record<string, unknown> };

const fmt = (v: number) => Number(v.toPrecision(4)).toString();

function quality(manifest: Metrics, who: 'candidate' | 'production') {
  let q;
  try {
    q = verdictOf(manifest);
  } catch (err) {
    if (err instanceof QualityRecordError) throw new GateInputError(`the ${who}'s ${err.message}`);
    throw err;
  }
  if (!q || q.verdict.value === null)
    throw new GateInputError(
      `the ${who}'s manifest.json records no objective value (metrics.verdict.value): it cannot be judged`,
    );
  return {
    objective: q.objective,
    value: q.verdict.value,
    beatsBaselines: q.verdict.beats_baselines,
  };
}

interface Segments {
  readonly column: string;
  readonly values: Record<string, Record<string, unknown>>;
}

function segmentsOf(manifest: Metrics, who: string): Segments | undefined {
  const s = manifest.metrics?.segments;
  if (s === undefined) return undefined;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof (s as Segments).column === 'string' &&
    typeof (s as Segments).values === 'object' &&
    (s as Segments).values !== null;
  if (!ok)
    throw new GateInputError(
      `the ${who}'s manifest.json: metrics.segments must be {column, values: {<value>: {<metric>: number}}}`,
    );
  return s as Segments;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The metric segments are judged on: the objective's where the segments record it. */
function segmentMetric(objective: ObjectiveRecord, segments: Segments): ObjectiveMetric {
  const values = Object.values(segments.values);
  const all = (m: string) => values.length > 0 && values.every((v) => num(v[m]) !== undefined);
  if (all(objective.metric)) return objective.metric;
  const fallback = (['accuracy', 'f1', 'rmse', 'mae'] as const).find(all);
  if (!fallback || !isObjectiveMetric(fallback))
    throw new GateInputError(
      `the candidate's metrics.segments record neither ${objective.metric} nor accuracy for every segment`,
    );
  return fallback;
}

function required(metric: ObjectiveMetric, value: number): string {
  return `${improvement(metric, 1, 0) > 0 ? '>=' : '<='} ${fmt(value)}`;
}

export function gate(
  candidate: Metrics,
  production: Metrics | undefined,
  policy: GatePolicy,
): GateResult {
  const c = quality(candidate, 'candidate');
  const metric = c.objective.metric;
  const what = describeObjective(c.objective);
  const rows: GateRow[] = [];
  const failures: string[] = [];
  const check = (row: GateRow, failure: string) => {
    rows.push(row);
    if (!row.passed) failures.push(failure);
  };

  let p: ReturnType<typeof quality> | undefined;
  if (production) {
    p = quality(production, 'production');
    if (p.objective.metric !== metric || p.objective.parameter !== c.objective.parameter)
      throw new GateInputError(
        `the objectives differ: candidate ${what}, production ${describeObjective(p.objective)}; ` +
          'promote the first model of the new objective by hand (npm run model -- promote)',
      );
    const higher = improvement(metric, 1, 0) > 0;
    const bar = p.value * (higher ? 1 - policy.promotionMargin : 1 + policy.promotionMargin);
    check(
      {
        check: what,
        candidate: c.value,
        production: p.value,
        required: required(metric, bar),
        passed: meetsTarget(metric, c.value, bar),
      },
      `${what} ${fmt(c.value)} misses production's ${fmt(p.value)} x (1 ${higher ? '-' : '+'} ${policy.promotionMargin}) = ${fmt(bar)} (training.promotionMargin)`,
    );
  }

  const floor = policy.primaryFloor ?? (production ? undefined : (c.objective.target ?? undefined));
  if (floor !== undefined) {
    const source =
      policy.primaryFloor !== undefined
        ? 'pipeline.gate.primaryFloor'
        : 'training.objective.target';
    check(
      {
        check: `${what} floor`,
        candidate: c.value,
        required: required(metric, floor),
        passed: meetsTarget(metric, c.value, floor),
      },
      `${what} ${fmt(c.value)} misses the floor ${fmt(floor)} (${source})`,
    );
  } else if (!production) {
    check(
      {
        check: `${what} beats its baselines`,
        candidate: c.value,
        required: 'beats the best baseline',
        passed: c.beatsBaselines !== false,
      },
      `first model: ${what} ${fmt(c.value)} does not beat its best baseline, and no floor is set (pipeline.gate.primaryFloor)`,
    );
  }

  const cs = segmentsOf(candidate, 'candidate');
  const ps = production && segmentsOf(production, 'production');
  if (cs) {
    const sm = segmentMetric(c.objective, cs);
    for (const [value, m] of Object.entries(cs.values).sort(([a], [b]) => a.localeCompare(b))) {
      const n = num(m.n);
      if (n !== undefined && n < policy.minSegmentRows) continue;
      const v = num(m[sm])!;
      const label = `segment ${cs.column}=${value} (${sm})`;
      if (policy.segmentFloor !== undefined) {
        check(
          {
            check: `${label} floor`,
            candidate: v,
            required: required(sm, policy.segmentFloor),
            passed: meetsTarget(sm, v, policy.segmentFloor),
          },
          `${label} ${fmt(v)} is below the floor ${fmt(policy.segmentFloor)} (pipeline.gate.segmentFloor)`,
        );
      }
      const pv = ps && ps.column === cs.column ? num(ps.values[value]?.[sm]) : undefined;
      if (pv !== undefined) {
        const regression = improvement(sm, pv, v);
        const bar =
          pv -
          (improvement(sm, 1, 0) > 0 ? policy.maxSegmentRegression : -policy.maxSegmentRegression);
        check(
          {
            check: label,
            candidate: v,
            production: pv,
            required: required(sm, bar),
            passed: regression <= policy.maxSegmentRegression + 1e-12,
          },
          `${label} regressed by ${fmt(regression)} against production's ${fmt(pv)}, more than ${policy.maxSegmentRegression} (pipeline.gate.maxSegmentRegression)`,
        );
      }
    }
  }

  const passed = failures.length === 0;
  const reason = passed
    ? production
      ? `${what} ${fmt(c.value)} against production's ${fmt(p!.value)}: ${rows.length} check${rows.length === 1 ? '' : 's'} passed`
      : `first model: ${what} ${fmt(c.value)}: ${rows.length} check${rows.length === 1 ? '' : 's'} passed`
    : failures[0]!;
  return { passed, reason, objective: what, rows };
}
