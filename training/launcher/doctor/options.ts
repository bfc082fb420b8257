import { DEFAULT_TEAMS_DIR } from '../../../lib/config/loader';
import {
  COMMON_OPTIONS,
  helpFor,
  parseWith,
  type CliSpec,
  type OptionTable,
  type OptionsOf,
  type Parsed,
} from '../cli/option-table';

/**
 * The doctor's option table. The selection is the one `cdk synth` makes: every team file,
 * narrowed by `--team` and/or `--stage` (`-c team=` / `-c stage=` there).
 */
export const DOCTOR_OPTIONS = {
  team: { type: 'string', description: 'check only this team (default: every team file)' },
  stage: {
    type: 'string',
    choices: ['dev', 'staging', 'prod'],
    description: 'check only this stage (default: every stage)',
  },
  'teams-dir': {
    type: 'string',
    placeholder: 'DIR',
    default: DEFAULT_TEAMS_DIR,
    description: 'folder of the team files',
  },
  'endpoint-url': {
    type: 'string',
    env: 'AWS_ENDPOINT_URL',
    placeholder: 'URL',
    description: 'send every AWS call to this endpoint (emulators such as moto)',
  },
  ...COMMON_OPTIONS,
} as const satisfies OptionTable;

export type DoctorOptions = OptionsOf<typeof DOCTOR_OPTIONS>;

export const DOCTOR_CLI: CliSpec<'check'> = {
  program: 'npm run doctor --',
  usage: '[options]',
  intro: [
    'Checks what `cdk deploy` needs, for each selected team file: AWS credentials of the',
    "team's account, the CDK bootstrap stack and its version, a container builder that",
    "builds linux/amd64, the login to AWS's deep learning containers registry, and the",
    'serving certificate. One line per check; exit 1 if any check fails.',
  ],
  commands: { check: 'run every check (the default and only command)' },
  defaultCommand: 'check',
  options: DOCTOR_OPTIONS,
  examples: ['npm run doctor', 'npm run doctor -- --team fraud --stage prod'],
};

/** Parses argv (without node and script); precedence flag > environment variable > default. */
export function parseDoctorCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Parsed<'check', DoctorOptions> {
  return parseWith(DOCTOR_CLI, argv, env);
}

export function doctorHelpText(): string {
  return helpFor(DOCTOR_CLI);
}
