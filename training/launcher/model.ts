import { MODEL_CLI, type ModelCommand, type ModelOptions } from './cli/model-options';
import { helpFor, parseWith } from './cli/option-table';
import { runCli } from './cli/run';
import { processRuntime, type Runtime } from './cli/runtime';
import { runModelCommand } from './commands/model';

/**
 * Runs `npm run model`; returns the exit code. Every error a user can cause (a bad argument,
 * an unknown version, no credentials, a stack that is not deployed, a refused bundle, a lost
 * race) exits 2 with one line.
 */
export function main(
  argv: readonly string[],
  runtime: Runtime = processRuntime(),
): Promise<number> {
  return runCli(
    {
      parse: (args, env) => parseWith<ModelCommand, ModelOptions>(MODEL_CLI, args, env),
      help: () => helpFor(MODEL_CLI),
      dispatch: (parsed, rt) => runModelCommand(parsed, rt),
      exitCode: () => 2,
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
