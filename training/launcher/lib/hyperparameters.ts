import { UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import { objectiveIssues, type Objective } from '../../../serving/src/bundle/quality';

/** `--hp key=value` pairs as SageMaker wants them: a map of strings. */
export function parseHyperparameters(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
    if (!match) throw new UsageError(`--hp ${pair}: expected KEY=VALUE`);
    out[match[1]] = match[2];
  }
  return out;
}

/**
 * The trainer's hyperparameters for a run: `--hp` pairs, then the objective and the quality
 * options. The objective comes from the flags, else from the team file (the training stack's
 * `objective` parameter), each field separately; a flag or `--hp objective_*` wins.
 */
export function trainerHyperparameters(options: Options, team?: Objective): Record<string, string> {
  const hp = parseHyperparameters(options.hp);
  const fromHp = ['objective_metric', 'objective_parameter', 'objective_target'].some(
    (k) => k in hp,
  );
  const flags = {
    metric: options.objectiveMetric,
    parameter: options.objectiveParameter,
    target: options.objectiveTarget,
  };
  const base = fromHp ? undefined : team;
  const metric = flags.metric ?? base?.metric;
  if (metric !== undefined) {
    // A team parameter or target belongs to the team's metric only.
    const inherited = metric === base?.metric ? base : undefined;
    const objective = {
      metric,
      parameter: flags.parameter ?? inherited?.parameter,
      target: flags.target ?? inherited?.target,
    };
    const issues = objectiveIssues(objective);
    if (issues.length > 0) {
      const where = (field: keyof typeof flags) =>
        flags[field] === undefined && inherited?.[field] !== undefined
          ? `the team's training.objective.${field}`
          : `--objective-${field}`;
      throw new UsageError(issues.map((i) => `${where(i.field)}: ${i.message}`).join('; '));
    }
    hp.objective_metric = objective.metric;
    if (objective.parameter !== undefined) hp.objective_parameter = String(objective.parameter);
    if (objective.target !== undefined) hp.objective_target = String(objective.target);
  } else if (flags.parameter !== undefined || flags.target !== undefined) {
    throw new UsageError(
      '--objective-parameter and --objective-target need --objective-metric (or a team objective)',
    );
  }
  if (options.classWeight !== undefined) hp.class_weight = options.classWeight;
  if (options.cv !== undefined) {
    if (!Number.isInteger(options.cv) || options.cv < 2)
      throw new UsageError(`--cv must be a whole number of folds, at least 2, got ${options.cv}`);
    hp.cv_folds = String(options.cv);
  }
  return hp;
}
