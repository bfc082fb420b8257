import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { resolveTeamConfig, type TeamConfig } from './defaults';
import { ConfigError, type ConfigProblem } from './errors';
import { teamFileSchema } from './schema';

/** Where team files live, relative to the working directory. */
export const DEFAULT_TEAMS_DIR = path.join('config', 'teams');

/** Which team environments to build: all by default, or narrowed by team and/or stage. */
export interface TeamSelection {
  readonly team?: string;
  readonly stage?: string;
}

/**
 * Reads, validates and resolves every `*.yaml` / `*.yml` file in `dir` (sorted by name, so
 * the result never depends on directory order). All problems in all files are collected and
 * thrown together as one {@link ConfigError}.
 */
export function loadTeamConfigs(dir: string = DEFAULT_TEAMS_DIR): TeamConfig[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ConfigError([{ file: dir, path: '', message: 'team config folder not found' }]);
  }
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) {
    throw new ConfigError([
      { file: dir, path: '', message: 'no team files (*.yaml): add one, e.g. example.yaml' },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const configs: TeamConfig[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const result = parseTeamFile(file, fs.readFileSync(file, 'utf8'));
    if ('problems' in result) {
      problems.push(...result.problems);
      continue;
    }
    const key = `${result.config.team}/${result.config.stage}`;
    const first = seen.get(key);
    if (first) {
      problems.push({
        file,
        path: '',
        message: `team "${result.config.team}" stage "${result.config.stage}" is already defined in ${first}`,
      });
      continue;
    }
    seen.set(key, file);
    configs.push(result.config);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return configs;
}

/** Validates one team file's text. Exported for tests and tools that hold text, not files. */
export function parseTeamFile(
  file: string,
  text: string,
): { config: TeamConfig } | { problems: ConfigProblem[] } {
  const parsed = parseConfigFile(file, text, teamFileSchema);
  return 'problems' in parsed ? parsed : { config: resolveTeamConfig(parsed.value, file) };
}

/**
 * Parses a YAML configuration file against a schema; problems carry the file, the line and
 * the field path.
 */
export function parseConfigFile<T>(
  file: string,
  text: string,
  schema: z.ZodType<T>,
): { value: T } | { problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        path: '',
        message: `invalid YAML: ${e.message.split('\n')[0]}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    };
  }
  if (!isMap(doc.contents)) {
    return {
      problems: [{ file, path: '', message: 'must be a YAML mapping of fields (is it empty?)' }],
    };
  }
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    return { problems: parsed.error.issues.flatMap((i) => toProblems(file, i, doc, lineCounter)) };
  }
  return { value: parsed.data };
}

/** Narrows loaded configs to a selection; an empty result is an error that lists what exists. */
export function selectTeams(configs: TeamConfig[], selection: TeamSelection): TeamConfig[] {
  const selected = configs.filter(
    (c) =>
      (selection.team === undefined || c.team === selection.team) &&
      (selection.stage === undefined || c.stage === selection.stage),
  );
  if (selected.length === 0) {
    const wanted = Object.entries(selection)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const available = configs.map((c) => `${c.team}/${c.stage}`).join(', ');
    throw new ConfigError([
      { file: '-c', path: '', message: `no team file matches ${wanted} (available: ${available})` },
    ]);
  }
  return selected;
}

type Issue = z.core.$ZodIssue;

function toProblems(
  file: string,
  issue: Issue,
  doc: Document,
  lines: LineCounter,
): ConfigProblem[] {
  const base = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      file,
      path: [...base, key].join('.'),
      message: 'is not a known field (check the spelling; unknown fields are errors)',
      line: lineOf(doc, lines, [...base, key], true),
    }));
  }
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  return [
    {
      file,
      path: base.join('.'),
      message: missing ? 'is required' : issue.message.replace(/^Invalid (input|option): /, ''),
      line: lineOf(doc, lines, base, false),
    },
  ];
}

/** 1-based line of the value (or, for unknown keys, the key) at `fieldPath`, if present. */
function lineOf(
  doc: Document,
  lines: LineCounter,
  fieldPath: (string | number)[],
  key: boolean,
): number | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < fieldPath.length; i++) {
    if (!node || typeof node !== 'object' || !('items' in node)) return undefined;
    const items = (node as { items: unknown[] }).items;
    const seg = fieldPath[i];
    if (typeof seg === 'number') {
      node = items[seg];
      continue;
    }
    const pair = items.find((p) => (p as { key?: { value?: unknown } }).key?.value === seg) as
      { key: { range?: number[] }; value: unknown } | undefined;
    if (!pair) return undefined;
    if (key && i === fieldPath.length - 1) node = pair.key;
    else node = pair.value ?? pair.key;
  }
  const range = (node as { range?: number[] } | undefined)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

/** Context keys the CLI accepts: `cdk synth -c team=fraud -c stage=prod -c teamsDir=...`. */
export interface ContextReader {
  tryGetContext(key: string): unknown;
}

/**
 * The app's one entry into configuration: reads the team folder and the selection from CDK
 * context and returns the validated, resolved environments to build.
 */
export function loadAppConfig(context: ContextReader): TeamConfig[] {
  const str = (key: string): string | undefined => {
    const v = context.tryGetContext(key);
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const all = loadTeamConfigs(str('teamsDir') ?? DEFAULT_TEAMS_DIR);
  return selectTeams(all, { team: str('team'), stage: str('stage') });
}
