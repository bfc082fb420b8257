import {
  AWS_OPTIONS,
  COMMON_OPTIONS,
  type CliSpec,
  type OptionTable,
  type OptionsOf,
  type Parsed,
} from './option-table';

/** The option table of `npm run model` (machinery: ./option-table.ts). */
export const MODEL_COMMANDS = {
  publish:
    'verify a bundle (a training job name, s3://.../model.tar.gz or a folder), store it and register it',
  promote: 'point production at VERSION, or the candidate with --canary PERCENT',
  rollback: 'undo the latest rollout step: end a serving canary, else move production back',
  status: 'what serves now: alias, traffic share, requests, errors, p99, confidence, approval',
  list: 'the versions in the store and the registry with their test metrics, newest first',
} as const;
export type ModelCommand = keyof typeof MODEL_COMMANDS;

export const MODEL_OPTIONS = {
  ...AWS_OPTIONS,
  canary: {
    type: 'number',
    max: 100,
    placeholder: 'PERCENT',
    description:
      'promote: make VERSION the candidate with this share of requests (0 < PERCENT < 100)',
  },
  'require-target': {
    type: 'boolean',
    default: false,
    description:
      "publish: refuse a bundle that has no objective target or missed it (the manifest's verdict)",
  },
  reason: {
    type: 'string',
    placeholder: 'TEXT',
    description: 'promote, rollback: why, recorded in the alias file',
  },
  minutes: {
    type: 'number',
    default: 60,
    description: 'status: the window the metrics cover, in minutes',
  },
  json: { type: 'boolean', default: false, description: 'print JSON instead of a table' },
  ...COMMON_OPTIONS,
} as const satisfies OptionTable;

export type ModelOptions = OptionsOf<typeof MODEL_OPTIONS>;
export type ParsedModelCommandLine = Parsed<ModelCommand, ModelOptions>;

export const MODEL_CLI: CliSpec<ModelCommand> = {
  program: 'npm run model --',
  usage: '<command> [arguments] [options]',
  intro: [
    "Publishes, promotes and rolls back the team's model versions: the model store in its",
    'models bucket (aliases move traffic, no redeploy) and its SageMaker model registry.',
    'Results go to stdout (a table, or JSON with --json); every error is one line, exit code 2.',
  ],
  commands: MODEL_COMMANDS,
  args: { publish: ['SOURCE'], promote: ['VERSION'] },
  options: MODEL_OPTIONS,
  examples: [
    'npm run model -- publish fraud-dev-train-20261201-101500 --team fraud',
    'npm run model -- publish s3://bucket/training/job/output/model.tar.gz --team fraud',
    'npm run model -- promote 20261201-101500-3f9c2a1b --canary 10 --team fraud',
    'npm run model -- status --team fraud --minutes 30',
    'npm run model -- rollback --team fraud --reason "p99 regression"',
  ],
};
