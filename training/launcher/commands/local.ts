import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { TRAINER_ENVIRONMENT } from '../../../constructs/training/contract';
import { JobFailedError, UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { copyChannel, resolveChannels } from '../lib/dataset';
import { freePort } from '../lib/free-port';
import { trainerHyperparameters } from '../lib/hyperparameters';
import { REFERENCE_DIR } from '../lib/paths';
import { findPython } from '../lib/python';
import { packDirectory } from '../lib/tarball';

/**
 * `--mode local`: the SageMaker directory contract in a temp folder, the reference trainer
 * run with a python that has PyTorch, and model.tar.gz packed the way SageMaker packs it.
 */
export async function trainLocal(options: Options, runtime: Runtime): Promise<void> {
  const processes = options.processes ?? 1;
  if (!Number.isInteger(processes)) {
    throw new UsageError(`--processes must be a whole number, got ${processes}`);
  }
  const hyperparameters = trainerHyperparameters(options);
  const { python, torchVersion } = findPython(options.python);
  const work = options.out
    ? path.resolve(options.out)
    : mkdtempSync(path.join(os.tmpdir(), 'ml-train-'));
  const root = path.join(work, 'opt', 'ml');
  const channels = resolveChannels(options, work, python);
  for (const [channel, dir] of Object.entries(channels)) {
    copyChannel(dir, path.join(root, 'input', 'data', channel));
  }
  mkdirSync(path.join(root, 'input', 'config'), { recursive: true });
  writeFileSync(
    path.join(root, 'input', 'config', 'hyperparameters.json'),
    JSON.stringify(hyperparameters, null, 2),
  );
  runtime.stderr(
    `training locally with ${python} (PyTorch ${torchVersion}) in ${root}` +
      (processes > 1 ? `, ${processes} processes` : ''),
  );

  const code = await runTrainer(python, root, runtime, processes);
  if (code !== 0) {
    const failureFile = path.join(root, 'output', 'failure');
    const reason = existsSync(failureFile)
      ? readFileSync(failureFile, 'utf8').trim()
      : `exit code ${code}`;
    throw new JobFailedError(`local training failed: ${reason}`);
  }

  const modelDir = path.join(root, 'model');
  const archive = path.join(root, 'output', 'model.tar.gz');
  packDirectory(modelDir, archive);
  runtime.stdout(`model.tar.gz: ${archive}`);
  runtime.stdout(modelDir);
}

async function runTrainer(
  python: string,
  root: string,
  runtime: Runtime,
  processes: number,
): Promise<number> {
  // Several processes: the image's entry point, which starts torchrun as on a GPU instance.
  const script = processes > 1 ? 'entry.py' : 'train.py';
  const distributed =
    processes > 1
      ? {
          [TRAINER_ENVIRONMENT.processesPerNode]: String(processes),
          MASTER_PORT: String(await freePort()),
        }
      : {};
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(REFERENCE_DIR, script), 'train'], {
      cwd: root,
      env: {
        ...runtime.env,
        ...distributed,
        ML_ROOT: root,
        PYTHONPATH: REFERENCE_DIR,
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => runtime.stderr(`  ${line}`));
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
