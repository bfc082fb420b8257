import { parseArgs } from 'node:util';
import { DEFAULT_TEAMS_DIR } from '../../../lib/config/loader';
import { coerce, type OptionSpec } from '../cli/options';
import { UsageError } from '../cli/errors';

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
  debug: { type: 'boolean', default: false, description: 'show stack traces' },
  help: { type: 'boolean', default: false, description: 'show this help' },
} as const satisfies Record<string, OptionSpec>;

export interface DoctorOptions {
  readonly team?: string;
  readonly stage?: string;
  readonly teamsDir: string;
  readonly endpointUrl?: string;
  readonly debug: boolean;
  readonly help: boolean;
}

/** Parses argv (without node and script); precedence flag > environment variable > default. */
export function parseDoctorCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): DoctorOptions {
  const specs = DOCTOR_OPTIONS as Record<string, OptionSpec>;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(specs).map(([name, spec]) => [
          name,
          { type: spec.type === 'boolean' ? 'boolean' : 'string' } as const,
        ]),
      ),
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  const flags = parsed.values as Record<string, unknown>;
  const options: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const sources: [unknown, string][] = [
      [flags[name], 'flag'],
      [spec.env ? env[spec.env] || undefined : undefined, `$${spec.env}`],
      [spec.default, 'default'],
    ];
    const found = sources.find(([value]) => value !== undefined);
    const key = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (found) options[key] = coerce(name, spec, found[0], found[1]);
  }
  return options as unknown as DoctorOptions;
}

export function doctorHelpText(): string {
  const lines = [
    'Usage: npm run doctor -- [options]',
    '',
    'Checks what `cdk deploy` needs, for each selected team file: AWS credentials of the',
    "team's account, the CDK bootstrap stack and its version, a container builder that",
    "builds linux/amd64, the login to AWS's deep learning containers registry, and the",
    'serving certificate. One line per check; exit 1 if any check fails.',
    '',
    'Options:',
  ];
  for (const [name, spec] of Object.entries(DOCTOR_OPTIONS as Record<string, OptionSpec>)) {
    const value =
      spec.type === 'boolean' ? '' : ` ${spec.placeholder ?? spec.choices?.join('|') ?? 'VALUE'}`;
    const extras = [
      spec.default !== undefined && spec.type !== 'boolean'
        ? `default ${String(spec.default)}`
        : '',
      spec.env ? `env ${spec.env}` : '',
    ].filter(Boolean);
    lines.push(
      `  --${name}${value}`.padEnd(34) +
        spec.description +
        (extras.length ? ` (${extras.join(', ')})` : ''),
    );
  }
  lines.push('', 'Examples:', '  npm run doctor', '  npm run doctor -- --team fraud --stage prod');
  return lines.join('\n');
}
