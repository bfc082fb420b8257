import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { waitFor } from './helpers';

/** Spawns the real process (src/server.ts) with only the given environment. */
const SERVER = join(__dirname, '..', 'src', 'server.ts');

export function startServer(env: Record<string, string>) {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = once(proc, 'exit').then(([code]) => code as number);
  return {
    proc,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async url(): Promise<string> {
      let found = '';
      await waitFor('the server to listen', () => {
        if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${stderr}${stdout}`);
        // Listening comes after the first read of the store: with a model, it is loaded by then.
        found = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] ?? '';
        return found !== '';
      }, 30000);
      return found;
    },
  };
}
