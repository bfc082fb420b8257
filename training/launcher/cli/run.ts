import { LauncherError, reportError } from './errors';
import type { Runtime } from './runtime';

/** What a launcher CLI is made of; {@link runCli} does the rest the same way for all of them. */
export interface CliProgram<P extends { options: { help: boolean; debug: boolean } }> {
  parse(argv: readonly string[], env: NodeJS.ProcessEnv): P;
  help(): string;
  dispatch(parsed: P, runtime: Runtime): Promise<void>;
  /** The exit code of a user error (default: the error's own). */
  exitCode?(err: LauncherError): number;
}

/** Runs a CLI; returns the exit code. Errors are reported here, once: one line unless --debug. */
export async function runCli<P extends { options: { help: boolean; debug: boolean } }>(
  program: CliProgram<P>,
  argv: readonly string[],
  runtime: Runtime,
): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const parsed = program.parse(argv, runtime.env);
    debug = parsed.options.debug;
    if (parsed.options.help) {
      runtime.stdout(program.help());
      return 0;
    }
    await program.dispatch(parsed, runtime);
    return 0;
  } catch (err) {
    const code = reportError(err, debug, (line) => runtime.stderr(line));
    return err instanceof LauncherError && program.exitCode ? program.exitCode(err) : code;
  }
}
