import { spawnSync } from 'node:child_process';
import { LauncherError } from '../cli/errors';

/** Debian's python3-torch lives under /usr/bin; a pyenv/venv python3 on PATH often lacks torch. */
export const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3', 'python'] as const;
const PROBE = 'import torch, numpy; print(torch.__version__)';

function probe(python: string): { ok: boolean; detail: string } {
  const result = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) return { ok: false, detail: result.error.message };
  if (result.status !== 0)
    return { ok: false, detail: result.stderr.trim().split('\n').pop() ?? '' };
  return { ok: true, detail: result.stdout.trim() };
}

/** The trainer's interpreter: the one asked for (flag or $TRAINER_PYTHON), else the first that imports torch. */
export function findPython(requested: string | undefined): {
  python: string;
  torchVersion: string;
} {
  if (requested) {
    const { ok, detail } = probe(requested);
    if (!ok) throw new LauncherError(`python '${requested}' cannot import torch: ${detail}`);
    return { python: requested, torchVersion: detail };
  }
  for (const candidate of PYTHON_CANDIDATES) {
    const { ok, detail } = probe(candidate);
    if (ok) return { python: candidate, torchVersion: detail };
  }
  throw new LauncherError(
    `no python with PyTorch found (tried ${PYTHON_CANDIDATES.join(', ')}): ` +
      'install python3-torch (Debian) or pass --python / set TRAINER_PYTHON',
  );
}
