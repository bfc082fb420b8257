import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import { OBJECTIVE_METRIC_NAMES } from '../../../serving/src/bundle/quality';

/**
 * The one option table: it drives parsing, the `Options` type and `--help`.
 * Precedence: flag > config file (`--config`) > environment variable > default.
 */
export const COMMANDS = {
  train: 'train a model (default command); --mode picks where',
  tune: 'run a SageMaker hyperparameter tuning job (Bayesian) and fetch the best model',
} as const;
export type Command = keyof typeof COMMANDS;

/** One row of an option table (this one, or another command family's). */
export interface OptionSpec {
  readonly type: 'string' | 'number' | 'boolean' | 'list';
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly env?: string;
  readonly placeholder?: string;
}

export const OPTIONS = {
  mode: {
    type: 'string',
    choices: ['local', 'sagemaker', 'ec2'],
    default: 'local',
    description: 'where to train: this machine, a SageMaker training job, or AWS Batch on EC2 GPUs',
  },
  data: {
    type: 'string',
    placeholder: 'DIR',
    description:
      'folder with the training CSV files (+ optional schema.json); default: generated sample data',
  },
  validation: {
    type: 'string',
    placeholder: 'DIR',
    description: 'validation channel folder (default: split from train)',
  },
  test: {
    type: 'string',
    placeholder: 'DIR',
    description: 'test channel folder (default: split from train)',
  },
  hp: {
    type: 'list',
    placeholder: 'KEY=VALUE',
    description: 'trainer hyperparameter, repeatable (e.g. --hp epochs=20 --hp lr=0.001)',
  },
  'objective-metric': {
    type: 'string',
    choices: OBJECTIVE_METRIC_NAMES,
    description:
      'primary metric the threshold is chosen for and the model judged by (default: the team file’s training.objective, else f1)',
  },
  'objective-parameter': {
    type: 'number',
    description:
      'the recall (precision_at_recall) or precision (recall_at_precision) floor, in (0, 1]',
  },
  'objective-target': {
    type: 'number',
    description: 'the value the model must reach on the test split (default: the team file’s)',
  },
  'class-weight': {
    type: 'string',
    choices: ['none', 'balanced'],
    description: 'balanced: weigh classes inversely to their frequency in the loss (default none)',
  },
  cv: {
    type: 'number',
    placeholder: 'K',
    description:
      'also report K-fold cross-validated mean ± std of the primary metric (small data sets; the model is still trained on the training split)',
  },
  team: { type: 'string', env: 'ML_TEAM', description: 'team name (AWS modes)' },
  stage: { type: 'string', env: 'ML_STAGE', default: 'dev', description: 'team stage (AWS modes)' },
  region: { type: 'string', env: 'AWS_REGION', description: 'AWS region (AWS modes)' },
  'endpoint-url': {
    type: 'string',
    env: 'AWS_ENDPOINT_URL',
    placeholder: 'URL',
    description: 'send every AWS call to this endpoint (emulators such as moto)',
  },
  'instance-type': {
    type: 'string',
    description: 'override the team’s GPU instance type (SageMaker, tune)',
  },
  'instance-count': {
    type: 'number',
    placeholder: 'N',
    description:
      'instances per job, one trainer process per GPU on each (SageMaker, tune, ec2; default: the team’s instance-count, 1)',
  },
  processes: {
    type: 'number',
    placeholder: 'N',
    description:
      'local: data-parallel trainer processes on this machine (torchrun, gloo on CPU), streaming the data',
  },
  'on-demand': {
    type: 'boolean',
    default: false,
    description: 'do not use managed spot capacity (SageMaker, tune)',
  },
  'job-name': {
    type: 'string',
    description: 'job name (default: <team>-train-<UTC timestamp>, or <team>-tune-... for tune)',
  },
  'max-jobs': { type: 'number', default: 12, description: 'tune: training jobs in total' },
  'parallel-jobs': { type: 'number', default: 3, description: 'tune: training jobs at a time' },
  objective: {
    type: 'string',
    default: 'validation:loss',
    description: 'tune: metric to optimise (validation:loss is minimised, others maximised)',
  },
  ranges: {
    type: 'string',
    placeholder: 'FILE',
    description: 'tune: JSON file of parameter ranges (default: built in)',
  },
  python: {
    type: 'string',
    env: 'TRAINER_PYTHON',
    placeholder: 'PATH',
    description:
      'python with PyTorch for local mode (default: first of /usr/bin/python3, python3 that imports torch)',
  },
  out: {
    type: 'string',
    placeholder: 'DIR',
    description: 'where to put the bundle (default: a new temp folder)',
  },
  'poll-seconds': { type: 'number', default: 15, description: 'seconds between job status checks' },
  config: { type: 'string', placeholder: 'FILE', description: 'JSON file with option values' },
  debug: { type: 'boolean', default: false, description: 'show stack traces' },
  help: { type: 'boolean', default: false, description: 'show this help' },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof OPTIONS;
type ValueOf<S> = S extends { type: 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'list' }
      ? string[]
      : S extends { choices: readonly (infer C)[] }
        ? C
        : string;
type Camel<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<Camel<T>>}`
  : S;
type HasDefault<S> = S extends { default: unknown }
  ? true
  : S extends { type: 'list' }
    ? true
    : false;

/** Parsed options: kebab-case flags become camelCase keys; options without a default may be undefined. */
export type Options = {
  -readonly [
    K in keyof Table as HasDefault<Table[K]> extends true ? Camel<K & string> : never
  ]: ValueOf<Table[K]>;
} & {
  -readonly [
    K in keyof Table as HasDefault<Table[K]> extends true ? never : Camel<K & string>
  ]?: ValueOf<Table[K]>;
};

export interface ParsedCommandLine {
  readonly command: Command;
  readonly options: Options;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Checks and converts one option value; `source` names where it came from for the error. */
export function coerce(name: string, spec: OptionSpec, raw: unknown, source: string): unknown {
  if (spec.type === 'list') {
    if (Array.isArray(raw)) return raw.map(String);
    return [String(raw)];
  }
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (['true', '1', 'yes'].includes(String(raw).toLowerCase())) return true;
    if (['false', '0', 'no'].includes(String(raw).toLowerCase())) return false;
    throw new UsageError(`--${name} (${source}) must be true or false, got '${String(raw)}'`);
  }
  if (spec.type === 'number') {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new UsageError(`--${name} (${source}) must be a positive number, got '${String(raw)}'`);
    }
    return value;
  }
  const value = String(raw);
  if (spec.choices && !spec.choices.includes(value)) {
    throw new UsageError(
      `--${name} (${source}) must be one of ${spec.choices.join(', ')}, got '${value}'`,
    );
  }
  return value;
}

/** Parses argv (without node and script) using `env` for env-backed options. */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ParsedCommandLine {
  const specs = OPTIONS as Record<string, OptionSpec>;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        Object.entries(specs).map(([name, spec]) => [
          name,
          {
            type: spec.type === 'boolean' ? 'boolean' : 'string',
            multiple: spec.type === 'list',
          } as const,
        ]),
      ),
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  const [commandName = 'train', ...extra] = parsed.positionals;
  if (!(commandName in COMMANDS)) {
    throw new UsageError(
      `unknown command '${commandName}': use one of ${Object.keys(COMMANDS).join(', ')}`,
    );
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' (see --help)`);

  const flags = parsed.values as Record<string, unknown>;
  let fileValues: Record<string, unknown> = {};
  if (typeof flags.config === 'string') {
    try {
      fileValues = JSON.parse(readFileSync(flags.config, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`cannot read --config ${flags.config}: ${(err as Error).message}`);
    }
    for (const key of Object.keys(fileValues)) {
      if (!(key in specs))
        throw new UsageError(`--config ${flags.config}: unknown option '${key}'`);
    }
  }

  const options: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const sources: [unknown, string][] = [
      [flags[name], 'flag'],
      [fileValues[name], `config file ${String(flags.config)}`],
      [spec.env ? env[spec.env] || undefined : undefined, `$${spec.env}`],
      [spec.default ?? (spec.type === 'list' ? [] : undefined), 'default'],
    ];
    const found = sources.find(([value]) => value !== undefined);
    if (found) options[camel(name)] = coerce(name, spec, found[0], found[1]);
  }
  return { command: commandName as Command, options: options as Options };
}

export function helpText(): string {
  const specs = OPTIONS as Record<string, OptionSpec>;
  const lines = [
    'Usage: npm run train -- [train|tune] [options]',
    '',
    'Trains the reference model (or your trainer image) and prints the model bundle folder',
    'as the last line of stdout. Progress goes to stderr.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(8)}${text}`),
    '',
    'Options:',
  ];
  for (const [name, spec] of Object.entries(specs)) {
    const value =
      spec.type === 'boolean'
        ? ''
        : ` ${spec.placeholder ?? (spec.choices ? spec.choices.join('|') : spec.type === 'number' ? 'N' : 'VALUE')}`;
    const extras = [
      spec.default !== undefined && spec.type !== 'boolean'
        ? `default ${String(spec.default)}`
        : undefined,
      spec.env ? `env ${spec.env}` : undefined,
    ].filter(Boolean);
    lines.push(
      `  --${name}${value}`.padEnd(34) +
        spec.description +
        (extras.length ? ` (${extras.join(', ')})` : ''),
    );
  }
  lines.push(
    '',
    'Examples:',
    '  npm run train -- --mode local',
    '  npm run train -- --mode sagemaker --team fraud --stage dev --data ./data/train',
    '  npm run train -- --mode ec2 --team fraud --data ./data/train',
    '  npm run train -- tune --team fraud --max-jobs 20 --data ./data/train',
  );
  return lines.join('\n');
}
