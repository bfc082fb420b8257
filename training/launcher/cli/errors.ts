/**
 * Errors a user is expected to hit. Each becomes one line on stderr (no stack unless
 * --debug) and a non-zero exit code; anything else is a bug and shows as "unexpected".
 */
export class LauncherError extends Error {
  readonly exitCode: number = 1;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments. */
export class UsageError extends LauncherError {
  override readonly exitCode = 2;
}

export class NoCredentialsError extends LauncherError {}

/** No SSM parameter exists for the team at all. */
export class UnknownTeamError extends LauncherError {}

/** The team exists but its training stack (the SSM contract) is not (fully) deployed. */
export class StackNotDeployedError extends LauncherError {}

export class QuotaExceededError extends LauncherError {}

/** A model version that the store (or the registry) does not have. */
export class UnknownVersionError extends LauncherError {}

/** A bundle that fails verification, or differs from what the store holds under its version. */
export class BundleRejectedError extends LauncherError {}

/** Someone else moved an alias between our read and our conditional write. */
export class AliasConflictError extends LauncherError {}

/** A training job, Batch job or local trainer run ended in failure. */
export class JobFailedError extends LauncherError {}

/** `npm run doctor`: one or more checks failed (each already printed its line). */
export class ChecksFailedError extends LauncherError {}

/** The user stopped the job (Ctrl-C) or left it running. */
export class InterruptedError extends LauncherError {
  override readonly exitCode = 130;
}

/**
 * Reports an error that ended a command, once, on stderr: a LauncherError as its one-line
 * message, anything else as "unexpected"; the stack only with `debug`. Returns the exit code.
 */
export function reportError(err: unknown, debug: boolean, stderr: (line: string) => void): number {
  if (err instanceof LauncherError) {
    stderr(`error: ${err.message}`);
    if (debug && err.stack) stderr(err.stack);
    return err.exitCode;
  }
  const error = err as Error;
  stderr(`error: unexpected ${error?.name ?? 'error'}: ${error?.message ?? String(err)}`);
  stderr(debug ? String(error?.stack) : 'run again with --debug for the stack trace');
  return 1;
}
