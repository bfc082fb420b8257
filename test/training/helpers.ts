import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Runtime } from '../../training/launcher/cli/runtime';

export interface RecordingRuntime extends Runtime {
  readonly out: string[];
  readonly err: string[];
  /** Every poll wait asked for, in milliseconds. */
  readonly sleeps: number[];
  /** Fires the registered Ctrl-C handlers, as a SIGINT would. */
  interrupt(): void;
}

/** A runtime with no clock, terminal or signals: sleeps return at once, answers are scripted. */
export function recordingRuntime(
  env: NodeJS.ProcessEnv = {},
  answers: boolean[] = [],
  now = new Date('2026-11-26T10:15:00Z'),
): RecordingRuntime {
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  const handlers = new Set<() => void>();
  return {
    out,
    err,
    sleeps,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    confirm: async () => answers.shift() ?? false,
    onInterrupt: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    interrupt: () => handlers.forEach((h) => h()),
  };
}

const tempDirs: string[] = [];

/** A scratch folder removed by `removeTempDirs` (call it in afterAll). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Also takes folders the code under test created (e.g. local mode's work dir). */
export function removeTempDirs(...more: string[]): void {
  for (const dir of [...tempDirs.splice(0), ...more]) rmSync(dir, { recursive: true, force: true });
}
