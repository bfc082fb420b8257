import * as readline from 'node:readline';

/**
 * Everything a command needs from the outside world, so tests can drive commands with no
 * real clock, terminal or signals: results go to `stdout`, progress to `stderr`.
 */
export interface Runtime {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
  /** Waits `ms`; resolves early when `signal` aborts (a Ctrl-C must not wait out a poll). */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Asks a yes/no question; resolves false when nobody can answer (no TTY). */
  readonly confirm: (question: string) => Promise<boolean>;
  /** Registers a Ctrl-C handler; returns a function that removes it. */
  readonly onInterrupt: (handler: () => void) => () => void;
}

export function processRuntime(): Runtime {
  return {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    now: () => new Date(),
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        // The same signal serves many polls: remove the listener each time, or they pile up.
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
      }),
    confirm: async (question) => {
      if (!process.stdin.isTTY) return false;
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await new Promise<string>((resolve) =>
          rl.question(`${question} [y/N] `, resolve),
        );
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
    onInterrupt: (handler) => {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
  };
}
