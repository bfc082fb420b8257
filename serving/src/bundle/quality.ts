import { z } from 'zod';

/**
 * Model quality: the team's objective (`training.objective` in the team file), the metric
 * names it may use and which way each is better, and the verdict the trainer records in
 * `manifest.json` (docs/model-bundle.md "Quality: objective, baselines, verdict").
 *
 * One definition for every side of the seam: the team-file schema, the training launcher
 * (which passes the objective to the trainer as hyperparameters), the inference service
 * (which validates the manifest), `npm run model -- publish` and the retraining gate. The
 * Python trainer keeps the same table in `ml_trainer/objectives.py`; a test checks they agree.
 * This module imports only zod: the service image, the CDK app, the launcher and the Lambdas
 * all use it.
 */

/** Which tasks a metric applies to. */
export type MetricTask = 'binary' | 'classification' | 'regression';

interface MetricSpec {
  /** `higher`: a larger value is a better model; `lower`: a smaller one is. */
  readonly better: 'higher' | 'lower';
  /** The metric's parameter, a fraction in (0, 1], when it has one (e.g. the recall floor). */
  readonly parameter: 'recall' | 'precision' | null;
  readonly task: MetricTask;
  /** Inclusive range of the metric's values (and so of a target). */
  readonly range: readonly [number, number];
}

export const OBJECTIVE_METRICS = {
  roc_auc: { better: 'higher', parameter: null, task: 'classification', range: [0, 1] },
  f1: { better: 'higher', parameter: null, task: 'classification', range: [0, 1] },
  precision_at_recall: { better: 'higher', parameter: 'recall', task: 'binary', range: [0, 1] },
  recall_at_precision: { better: 'higher', parameter: 'precision', task: 'binary', range: [0, 1] },
  accuracy: { better: 'higher', parameter: null, task: 'classification', range: [0, 1] },
  mae: { better: 'lower', parameter: null, task: 'regression', range: [0, Number.MAX_VALUE] },
  rmse: { better: 'lower', parameter: null, task: 'regression', range: [0, Number.MAX_VALUE] },
} as const satisfies Record<string, MetricSpec>;

export type ObjectiveMetric = keyof typeof OBJECTIVE_METRICS;
export const OBJECTIVE_METRIC_NAMES = Object.keys(OBJECTIVE_METRICS) as [ObjectiveMetric, ...ObjectiveMetric[]];

/** The team's success metric and its target (guide, phase 1.3). */
export interface Objective {
  readonly metric: ObjectiveMetric;
  /** The metric's parameter where one applies: `precision_at_recall` with 0.9 = precision at recall >= 0.9. */
  readonly parameter?: number;
  /** The value the model must reach on the test split. */
  readonly target?: number;
}

/** One problem with an objective: the field it is about and what is wrong. */
export interface ObjectiveIssue {
  readonly field: 'metric' | 'parameter' | 'target';
  readonly message: string;
}

export function isObjectiveMetric(name: string): name is ObjectiveMetric {
  return Object.prototype.hasOwnProperty.call(OBJECTIVE_METRICS, name);
}

/** Checks an objective's parameter and target against its metric; [] when it is valid. */
export function objectiveIssues(objective: {
  metric: string;
  parameter?: number;
  target?: number;
}): ObjectiveIssue[] {
  const { metric, parameter, target } = objective;
  if (!isObjectiveMetric(metric)) {
    return [{ field: 'metric', message: `unknown metric "${metric}": use one of ${OBJECTIVE_METRIC_NAMES.join(', ')}` }];
  }
  const spec: MetricSpec = OBJECTIVE_METRICS[metric];
  const issues: ObjectiveIssue[] = [];
  if (spec.parameter && parameter === undefined) {
    issues.push({ field: 'parameter', message: `${metric} needs a parameter: the minimum ${spec.parameter}, in (0, 1]` });
  } else if (!spec.parameter && parameter !== undefined) {
    issues.push({ field: 'parameter', message: `${metric} takes no parameter` });
  } else if (parameter !== undefined && !(Number.isFinite(parameter) && parameter > 0 && parameter <= 1)) {
    issues.push({ field: 'parameter', message: `must be a ${spec.parameter} in (0, 1], got ${parameter}` });
  }
  const [lo, hi] = spec.range;
  if (target !== undefined && !(Number.isFinite(target) && target >= lo && target <= hi)) {
    issues.push({
      field: 'target',
      message: `must be in [${lo}, ${hi === Number.MAX_VALUE ? '∞' : hi}] for ${metric}, got ${target}`,
    });
  }
  return issues;
}

/**
 * How much better `candidate` is than `reference` on `metric`: positive when better, in the
 * metric's own units (so a lower-is-better metric counts a decrease as an improvement).
 */
export function improvement(metric: ObjectiveMetric, candidate: number, reference: number): number {
  return OBJECTIVE_METRICS[metric].better === 'higher' ? candidate - reference : reference - candidate;
}

/** Whether `value` reaches `target` on `metric` (>= for higher-is-better, <= otherwise). */
export function meetsTarget(metric: ObjectiveMetric, value: number, target: number): boolean {
  return improvement(metric, value, target) >= 0;
}

/** "precision_at_recall (recall >= 0.9)": the objective as people read it. */
export function describeObjective(objective: { metric: ObjectiveMetric; parameter?: number | null }): string {
  const p = OBJECTIVE_METRICS[objective.metric].parameter;
  return p && objective.parameter != null ? `${objective.metric} (${p} >= ${objective.parameter})` : objective.metric;
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const fraction = finite.refine((v) => v >= 0 && v <= 1, 'must be in [0, 1]');

/** `metrics.objective`: what the model was trained and judged for. */
export const objectiveRecordSchema = z.strictObject({
  metric: z.enum(OBJECTIVE_METRIC_NAMES),
  parameter: finite.nullable(),
  target: finite.nullable(),
});

/** `metrics.verdict`: the primary metric on the test split against the target and the baselines. */
export const verdictRecordSchema = z.strictObject({
  value: finite.nullable(),
  target_met: z.boolean().nullable(),
  best_baseline: z.string().min(1).nullable(),
  best_baseline_value: finite.nullable(),
  /** improvement() of the model over the best baseline; positive = the model is better. */
  margin: finite.nullable(),
  beats_baselines: z.boolean().nullable(),
});

/** `metrics.baselines.<name>`: a simple model trained and tested on the same rows. */
export const baselineRecordSchema = z.strictObject({
  test: z.record(z.string(), z.unknown()),
  threshold: fraction.optional(),
  train_seconds: finite,
  inference_us_per_row: finite,
});

/** The quality keys of `metrics`; the rest of `metrics` belongs to the trainer. */
export const qualityMetricsShape = {
  objective: objectiveRecordSchema.optional(),
  verdict: verdictRecordSchema.optional(),
  baselines: z.record(z.string(), baselineRecordSchema).optional(),
};

export type ObjectiveRecord = z.infer<typeof objectiveRecordSchema>;
export type VerdictRecord = z.infer<typeof verdictRecordSchema>;

/** A bundle's recorded objective and verdict. */
export interface Quality {
  readonly objective: ObjectiveRecord;
  readonly verdict: VerdictRecord;
}

export class QualityRecordError extends Error {
  override readonly name = 'QualityRecordError';
}

/**
 * The objective and verdict a manifest records, or undefined for a bundle written before the
 * trainer recorded them. Throws QualityRecordError naming the field when they are malformed.
 */
export function verdictOf(manifest: { metrics?: Record<string, unknown> }): Quality | undefined {
  const metrics = manifest.metrics ?? {};
  if (metrics.objective === undefined && metrics.verdict === undefined) return undefined;
  const parsed = z
    .object({ objective: objectiveRecordSchema, verdict: verdictRecordSchema })
    .safeParse({ objective: metrics.objective, verdict: metrics.verdict });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new QualityRecordError(`manifest.json: metrics.${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Two bundles compared on their shared objective (the retraining gate's question). */
export interface ObjectiveComparison {
  readonly objective: ObjectiveRecord;
  readonly candidate: number;
  readonly reference: number;
  /** improvement() of the candidate over the reference: positive = the candidate is better. */
  readonly improvement: number;
}

/**
 * Compares a candidate bundle with a reference (e.g. production) on the primary metric both
 * were judged by. Throws QualityRecordError when either records no verdict value or the two
 * objectives differ (a metric or parameter change makes the values incomparable).
 */
export function compareOnObjective(
  candidate: { metrics?: Record<string, unknown> },
  reference: { metrics?: Record<string, unknown> },
): ObjectiveComparison {
  const c = verdictOf(candidate);
  const r = verdictOf(reference);
  if (!c || c.verdict.value === null) throw new QualityRecordError('the candidate records no objective value');
  if (!r || r.verdict.value === null) throw new QualityRecordError('the reference records no objective value');
  if (c.objective.metric !== r.objective.metric || c.objective.parameter !== r.objective.parameter) {
    throw new QualityRecordError(
      `the objectives differ: candidate ${describeObjective(c.objective)}, reference ${describeObjective(r.objective)}`,
    );
  }
  return {
    objective: c.objective,
    candidate: c.verdict.value,
    reference: r.verdict.value,
    improvement: improvement(c.objective.metric, c.verdict.value, r.verdict.value),
  };
}

export interface QualityCheck {
  readonly quality: Quality | undefined;
  /** What a person should know before publishing; empty when the target is met and a baseline is beaten. */
  readonly warnings: string[];
  /** Set when `requireTarget` is on and the target is not (known to be) met: do not publish. */
  readonly refusal?: string;
}

const fmt = (v: number) => Number(v.toPrecision(4)).toString();

/**
 * The publish check (`npm run model -- publish`): warns when the objective's target is missed
 * or the model does not beat its best baseline; with `requireTarget`, refuses unless the
 * target is set and met.
 */
export function checkQuality(
  manifest: { metrics?: Record<string, unknown> },
  opts: { requireTarget?: boolean } = {},
): QualityCheck {
  const quality = verdictOf(manifest);
  const warnings: string[] = [];
  let targetProblem: string | undefined;
  if (!quality) {
    targetProblem = 'the manifest records no objective or verdict (a bundle from an older trainer)';
    warnings.push(targetProblem);
  } else {
    const { objective, verdict } = quality;
    const what = describeObjective(objective);
    if (objective.target === null) {
      targetProblem = `no target is set for ${what} (training.objective.target in the team file)`;
      warnings.push(targetProblem);
    } else if (verdict.value === null) {
      targetProblem = `${what} could not be computed on the test split, target ${fmt(objective.target)}`;
      warnings.push(targetProblem);
    } else if (!verdict.target_met) {
      targetProblem =
        `${what} is ${fmt(verdict.value)} on the test split: target ${fmt(objective.target)} missed by ` +
        fmt(Math.abs(improvement(objective.metric, verdict.value, objective.target)));
      warnings.push(targetProblem);
    }
    if (verdict.beats_baselines === false) {
      warnings.push(
        `the model does not beat the ${verdict.best_baseline} baseline on ${what}: ` +
          `${fmt(verdict.value!)} vs ${fmt(verdict.best_baseline_value!)}`,
      );
    }
  }
  const refusal =
    opts.requireTarget && targetProblem ? `refusing to publish (--require-target): ${targetProblem}` : undefined;
  return { quality, warnings, ...(refusal ? { refusal } : {}) };
}
