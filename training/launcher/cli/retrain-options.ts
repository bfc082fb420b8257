import {
  AWS_OPTIONS,
  COMMON_OPTIONS,
  type CliSpec,
  type OptionTable,
  type OptionsOf,
  type Parsed,
} from './option-table';

/** The option table of `npm run retrain` (machinery: ./option-table.ts). */
export const RETRAIN_COMMANDS = {
  start: "start the team's retraining pipeline and follow it until it ends (default)",
} as const;
export type RetrainCommand = keyof typeof RETRAIN_COMMANDS;

export const RETRAIN_OPTIONS = {
  ...AWS_OPTIONS,
  'no-follow': {
    type: 'boolean',
    default: false,
    description: 'print the execution and its console link, then leave it running',
  },
  'poll-seconds': { type: 'number', default: 15, description: 'seconds between status checks' },
  ...COMMON_OPTIONS,
} as const satisfies OptionTable;

export type RetrainOptions = OptionsOf<typeof RETRAIN_OPTIONS>;
export type ParsedRetrainCommandLine = Parsed<RetrainCommand, RetrainOptions>;

export const RETRAIN_CLI: CliSpec<RetrainCommand> = {
  program: 'npm run retrain --',
  usage: '[start] [options]',
  intro: [
    "Starts the team's retraining pipeline (train, gate, publish, canary, promote or roll",
    'back), prints the execution ARN and its console link, and follows its states until it',
    'ends. The execution result goes to stdout; progress to stderr. A second start while one',
    'runs is skipped by the pipeline itself (and notified).',
  ],
  commands: RETRAIN_COMMANDS,
  defaultCommand: 'start',
  options: RETRAIN_OPTIONS,
  examples: [
    'npm run retrain -- --team fraud --stage prod',
    'npm run retrain -- --team fraud --no-follow',
  ],
};
