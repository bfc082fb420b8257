import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from './errors';

/**
 * The machinery behind every launcher CLI (`npm run train`, `npm run model`): one declarative
 * table per CLI drives parsing, the options type and `--help`.
 * Precedence: flag > config file (`--config`) > environment variable > default.
 */
export interface OptionSpec {
  readonly type: 'string' | 'number' | 'boolean' | 'list';
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly env?: string;
  readonly placeholder?: string;
  /** number: the largest value allowed (values must be > 0). */
  readonly max?: number;
}

export type OptionTable = Record<string, OptionSpec>;

/** Options every AWS command shares: which team environment, and where its API is. */
export const AWS_OPTIONS = {
  team: { type: 'string', env: 'ML_TEAM', description: 'team name (AWS commands)' },
  stage: { type: 'string', env: 'ML_STAGE', default: 'dev', description: 'team stage' },
  region: { type: 'string', env: 'AWS_REGION', description: 'AWS region' },
  'endpoint-url': {
    type: 'string',
    env: 'AWS_ENDPOINT_URL',
    placeholder: 'URL',
    description: 'send every AWS call to this endpoint (emulators such as moto)',
  },
} as const satisfies OptionTable;

/** Options every CLI ends its table with. */
export const COMMON_OPTIONS = {
  config: { type: 'string', placeholder: 'FILE', description: 'JSON file with option values' },
  debug: { type: 'boolean', default: false, description: 'show stack traces' },
  help: { type: 'boolean', default: false, description: 'show this help' },
} as const satisfies OptionTable;

/** One CLI: its commands, the positional arguments each takes, its options and its help. */
export interface CliSpec<C extends string = string> {
  /** How users run it, e.g. `npm run model --`. */
  readonly program: string;
  /** Usage line after the program name. */
  readonly usage: string;
  /** Lines under the usage line. */
  readonly intro: readonly string[];
  readonly commands: Readonly<Record<C, string>>;
  /** Command used when none is given; without one a command is required. */
  readonly defaultCommand?: C;
  /** Positional arguments per command, e.g. `{ promote: ['VERSION'] }`; all are required. */
  readonly args?: Readonly<Partial<Record<C, readonly string[]>>>;
  readonly options: OptionTable;
  readonly examples: readonly string[];
}

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

/** Parsed options of a table: kebab-case flags become camelCase keys; options without a default may be undefined. */
export type OptionsOf<Table> = {
  -readonly [
    K in keyof Table as HasDefault<Table[K]> extends true ? Camel<K & string> : never
  ]: ValueOf<Table[K]>;
} & {
  -readonly [
    K in keyof Table as HasDefault<Table[K]> extends true ? never : Camel<K & string>
  ]?: ValueOf<Table[K]>;
};

export interface Parsed<C extends string, O> {
  readonly command: C;
  /** The command's positional arguments, in the order of `CliSpec.args`. */
  readonly args: readonly string[];
  readonly options: O;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function coerce(name: string, spec: OptionSpec, raw: unknown, source: string): unknown {
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
    if (!Number.isFinite(value) || value <= 0 || (spec.max !== undefined && value > spec.max)) {
      const range = spec.max === undefined ? 'a positive number' : `a number in (0, ${spec.max}]`;
      throw new UsageError(`--${name} (${source}) must be ${range}, got '${String(raw)}'`);
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

/** Parses argv (without node and script) against `cli`, using `env` for env-backed options. */
export function parseWith<C extends string, O>(
  cli: CliSpec<C>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Parsed<C, O> {
  const specs = cli.options;
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
  const commandNames = Object.keys(cli.commands);
  const [commandName = cli.defaultCommand, ...rest] = parsed.positionals;
  // --help answers before a command or its arguments are checked.
  if (options.help === true)
    return { command: (commandName ?? commandNames[0]) as C, args: rest, options: options as O };
  if (commandName === undefined)
    throw new UsageError(`a command is required: one of ${commandNames.join(', ')} (see --help)`);
  if (!(commandName in cli.commands)) {
    throw new UsageError(`unknown command '${commandName}': use one of ${commandNames.join(', ')}`);
  }
  const command = commandName as C;
  const expected = cli.args?.[command] ?? [];
  if (rest.length > expected.length)
    throw new UsageError(`unexpected argument '${rest[expected.length]}' (see --help)`);
  if (rest.length < expected.length) {
    throw new UsageError(
      `${command} needs ${expected.slice(rest.length).join(' ')} (usage: ${cli.program} ${command} ${expected.join(' ')})`,
    );
  }
  return { command, args: rest, options: options as O };
}

export function helpFor(cli: CliSpec): string {
  const args = (name: string) =>
    (cli.args as Record<string, readonly string[]> | undefined)?.[name] ?? [];
  const heads = Object.keys(cli.commands).map((name) => [name, ...args(name)].join(' '));
  const commandWidth = Math.max(8, ...heads.map((h) => h.length + 2));
  const lines = [
    `Usage: ${cli.program} ${cli.usage}`,
    '',
    ...cli.intro,
    '',
    'Commands:',
    ...Object.values<string>(cli.commands).map(
      (text, i) => `  ${heads[i].padEnd(commandWidth)}${text}`,
    ),
    '',
    'Options:',
  ];
  for (const [name, spec] of Object.entries(cli.options)) {
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
  lines.push('', 'Examples:', ...cli.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}
