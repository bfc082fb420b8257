import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { LauncherError } from '../cli/errors';

function tar(args: string[]): void {
  const result = spawnSync('tar', args, { encoding: 'utf8' });
  if (result.error) throw new LauncherError(`cannot run tar: ${result.error.message}`);
  if (result.status !== 0)
    throw new LauncherError(`tar ${args[0]} failed: ${result.stderr.trim()}`);
}

/** model.tar.gz the way SageMaker builds it: the bundle files at the archive root. */
export function packDirectory(dir: string, archive: string): void {
  tar(['-czf', archive, '-C', dir, '.']);
}

export function unpackArchive(archive: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  tar(['-xzf', archive, '-C', dir, '--no-same-owner']);
}
