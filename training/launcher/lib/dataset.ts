import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LauncherError, UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import { PYTHON_CANDIDATES } from './python';
import { REFERENCE_DIR } from './paths';

export type Channel = 'train' | 'validation' | 'test';

/** Channel name -> local folder with the CSV files (and, for train, the optional schema.json). */
export type Channels = Partial<Record<Channel, string>> & { train: string };

function checkChannelDir(flag: string, dir: string): string {
  const resolved = path.resolve(dir);
  if (!existsSync(resolved) || !statSync(resolved).isDirectory()) {
    throw new UsageError(`--${flag} ${dir}: not a folder`);
  }
  if (!readdirSync(resolved).some((f) => f.endsWith('.csv'))) {
    throw new UsageError(`--${flag} ${dir}: no .csv file in it`);
  }
  return resolved;
}

/** Writes the seeded sample data set (train.csv + schema.json) into `dir` with any python3. */
export function generateSampleData(dir: string, python?: string): void {
  mkdirSync(dir, { recursive: true });
  const errors: string[] = [];
  for (const candidate of python ? [python] : PYTHON_CANDIDATES) {
    const result = spawnSync(candidate, ['-m', 'ml_trainer.sample_data', '--out', dir], {
      cwd: REFERENCE_DIR,
      encoding: 'utf8',
    });
    if (!result.error && result.status === 0) return;
    errors.push(`${candidate}: ${result.error?.message ?? result.stderr.trim().split('\n').pop()}`);
  }
  throw new LauncherError(`cannot generate the sample data set (${errors.join('; ')})`);
}

/** The user's channel folders, or the sample data set generated under `scratch`. */
export function resolveChannels(options: Options, scratch: string, python?: string): Channels {
  if (!options.data) {
    if (options.validation || options.test)
      throw new UsageError('--validation/--test need --data as well');
    const train = path.join(scratch, 'sample-data', 'train');
    generateSampleData(train, python);
    return { train };
  }
  const channels: Channels = { train: checkChannelDir('data', options.data) };
  if (options.validation) channels.validation = checkChannelDir('validation', options.validation);
  if (options.test) channels.test = checkChannelDir('test', options.test);
  return channels;
}

export function copyChannel(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from)) {
    if (file.endsWith('.csv') || file === 'schema.json')
      cpSync(path.join(from, file), path.join(to, file));
  }
}

/** Resolves the channels for an upload; generated sample data is deleted once `use` is done. */
export async function withChannels<T>(
  options: Options,
  use: (channels: Channels) => Promise<T>,
): Promise<T> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'ml-train-data-'));
  try {
    return await use(resolveChannels(options, scratch, options.python));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
