import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';

export interface ExecResult {
  /** Exit status; 127 when the program could not be started. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * What the doctor needs from the machine beyond AWS, so the checks run in tests with no
 * container builder: the environment (PATH, CDK_DOCKER, DOCKER_CONFIG), programs and files.
 */
export interface Host {
  readonly env: NodeJS.ProcessEnv;
  readonly homedir: string;
  /** Runs a program (never a shell), with `input` on stdin. */
  exec(program: string, args: readonly string[], input?: string): Promise<ExecResult>;
  /** A file's text, or undefined when it cannot be read. */
  readFile(file: string): string | undefined;
}

export function processHost(env: NodeJS.ProcessEnv): Host {
  return {
    env,
    homedir: homedir(),
    exec: (program, args, input) =>
      new Promise((resolve) => {
        const child = execFile(
          program,
          [...args],
          { env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
            resolve({
              code,
              stdout: String(stdout),
              stderr: String(stderr || (err?.message ?? '')),
            });
          },
        );
        child.stdin?.end(input ?? '');
      }),
    readFile: (file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** The executable `name` resolves to on `PATH` (or `name` itself when it is a path), if any. */
export function findExecutable(name: string, pathVariable: string | undefined): string | undefined {
  const candidates = name.includes(path.sep)
    ? [name]
    : (pathVariable ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, name));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const firstLine = (text: string): string => text.trim().split('\n')[0]?.trim() ?? '';
