import {
  AWS_OPTIONS,
  COMMON_OPTIONS,
  helpFor,
  parseWith,
  type CliSpec,
  type OptionTable,
  type OptionsOf,
  type Parsed,
} from './option-table';
import { OBJECTIVE_METRIC_NAMES } from '../../../serving/src/bundle/quality';

/** The option table of `npm run train` (machinery: ./option-table.ts). */
export const COMMANDS = {
  train: 'train a model (default command); --mode picks where',
  tune: 'run a SageMaker hyperparameter tuning job (Bayesian) and fetch the best model',
  experiments: "list the team's training runs with hyperparameters and final metrics",
} as const;
export type Command = keyof typeof COMMANDS;

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
  ...AWS_OPTIONS,
  'instance-type': {
    type: 'string',
    description: 'override the team’s GPU instance type (SageMaker, tune)',
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
  'sort-by': {
    type: 'string',
    placeholder: 'METRIC',
    description:
      'experiments: best first by this metric (e.g. test:f1; *:loss lowest first); default newest first',
  },
  'max-results': { type: 'number', default: 20, description: 'experiments: runs to list' },
  json: { type: 'boolean', default: false, description: 'experiments: print JSON, not a table' },
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
  ...COMMON_OPTIONS,
} as const satisfies OptionTable;

/** Parsed options: kebab-case flags become camelCase keys; options without a default may be undefined. */
export type Options = OptionsOf<typeof OPTIONS>;
export type ParsedCommandLine = Parsed<Command, Options>;

export const TRAIN_CLI: CliSpec<Command> = {
  program: 'npm run train --',
  usage: '[train|tune|experiments] [options]',
  intro: [
    'Trains the reference model (or your trainer image) and prints the model bundle folder',
    'as the last line of stdout. Progress goes to stderr.',
  ],
  commands: COMMANDS,
  defaultCommand: 'train',
  options: OPTIONS,
  examples: [
    'npm run train -- --mode local',
    'npm run train -- --mode sagemaker --team fraud --stage dev --data ./data/train',
    'npm run train -- --mode ec2 --team fraud --data ./data/train',
    'npm run train -- tune --team fraud --max-jobs 20 --data ./data/train',
    'npm run train -- experiments --team fraud --sort-by test:f1 --max-results 10',
  ],
};

/** Parses argv (without node and script) using `env` for env-backed options. */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ParsedCommandLine {
  return parseWith(TRAIN_CLI, argv, env);
}

export function helpText(): string {
  return helpFor(TRAIN_CLI);
}
