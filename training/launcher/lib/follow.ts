import { InterruptedError } from '../cli/errors';
import type { Runtime } from '../cli/runtime';

/** A remote job the launcher watches until it ends. */
export interface FollowedJob<S> {
  /** e.g. "training job fraud-train-20261126-101500" */
  readonly what: string;
  describe(): Promise<S>;
  /** Progress lines for what changed since `previous` (stderr). */
  report(state: S, previous: S | undefined): string[];
  isDone(state: S): boolean;
  stop(): Promise<void>;
  /** How to look at the job after the launcher leaves it running. */
  readonly hint: string;
}

export interface FollowResult<S> {
  readonly state: S;
  /** True when the user asked to stop the job. */
  readonly stoppedOnRequest: boolean;
}

/**
 * Polls until the job ends, printing what changed. Ctrl-C asks whether to stop the job:
 * yes stops it and keeps following until it has stopped; no (or no terminal) leaves it
 * running and exits; a Ctrl-C while it stops leaves at once.
 */
export async function follow<S>(
  job: FollowedJob<S>,
  runtime: Runtime,
  pollMs: number,
): Promise<FollowResult<S>> {
  let interrupts = 0;
  let wake = new AbortController();
  const off = runtime.onInterrupt(() => {
    interrupts += 1;
    wake.abort();
  });
  let stopping = false;
  try {
    let previous: S | undefined;
    for (;;) {
      const state = await job.describe();
      for (const line of job.report(state, previous)) runtime.stderr(line);
      previous = state;
      if (job.isDone(state)) return { state, stoppedOnRequest: stopping };
      if (interrupts > 0) {
        interrupts = 0;
        if (stopping) throw new InterruptedError(`left ${job.what} while it stops; ${job.hint}`);
        if (!(await runtime.confirm(`Stop ${job.what}?`))) {
          throw new InterruptedError(`${job.what} keeps running; ${job.hint}`);
        }
        await job.stop();
        stopping = true;
        runtime.stderr(`stopping ${job.what} (Ctrl-C again to leave without waiting)`);
      }
      if (wake.signal.aborted) wake = new AbortController();
      await runtime.sleep(pollMs, wake.signal);
    }
  } finally {
    off();
  }
}
