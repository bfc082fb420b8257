import { RETRAIN_CLI, type RetrainCommand, type RetrainOptions } from './cli/retrain-options';
import { helpFor, parseWith } from './cli/option-table';
import { runCli } from './cli/run';
import { processRuntime, type Runtime } from './cli/runtime';
import { runRetrain } from './commands/retrain';

/** Runs `npm run retrain`; returns the exit code (user errors: one line, their own code). */
export function main(
  argv: readonly string[],
  runtime: Runtime = processRuntime(),
): Promise<number> {
  return runCli(
    {
      parse: (args, env) => parseWith<RetrainCommand, RetrainOptions>(RETRAIN_CLI, args, env),
      help: () => helpFor(RETRAIN_CLI),
      dispatch: (parsed, rt) => runRetrain(parsed, rt),
    },
    argv,
    runtime,
  );
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
