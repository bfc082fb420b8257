/** One problem in one configuration file, located by field path and (when known) line. */
export interface ConfigProblem {
  readonly file: string;
  /** Dotted field path, e.g. `dataLake.lifecycle.noncurrentVersionDays`; empty for the file. */
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

/** Thrown when configuration is invalid; its message lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid team configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}
