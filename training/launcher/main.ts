import { reportError } from './cli/errors';
import { helpText, parseCommandLine, type ParsedCommandLine } from './cli/options';
import { processRuntime, type Runtime } from './cli/runtime';
import { trainLocal } from './commands/local';

async function dispatch({ command, options }: ParsedCommandLine, runtime: Runtime): Promise<void> {
  if (command === 'tune') {
    const { tune } = await import('./commands/tune');
    return tune(options, runtime);
  }
  switch (options.mode) {
    case 'local':
      return trainLocal(options, runtime);
    case 'sagemaker': {
      const { trainSageMaker } = await import('./commands/sagemaker');
      return trainSageMaker(options, runtime);
    }
    case 'ec2': {
      const { trainEc2 } = await import('./commands/ec2');
      return trainEc2(options, runtime);
    }
  }
}

/** Runs the CLI; returns the exit code. Errors are reported here, once. */
export async function main(
  argv: readonly string[],
  runtime: Runtime = processRuntime(),
): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const parsed = parseCommandLine(argv, runtime.env);
    debug = parsed.options.debug;
    if (parsed.options.help) {
      runtime.stdout(helpText());
      return 0;
    }
    await dispatch(parsed, runtime);
    return 0;
  } catch (err) {
    return reportError(err, debug, runtime.stderr);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
