import { helpText, parseCommandLine, type ParsedCommandLine } from './cli/options';
import { runCli } from './cli/run';
import { processRuntime, type Runtime } from './cli/runtime';
import { trainLocal } from './commands/local';

async function dispatch({ command, options }: ParsedCommandLine, runtime: Runtime): Promise<void> {
  if (command === 'experiments') {
    const { experiments } = await import('./commands/experiments');
    return experiments(options, runtime);
  }
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

/** Runs `npm run train`; returns the exit code. */
export function main(
  argv: readonly string[],
  runtime: Runtime = processRuntime(),
): Promise<number> {
  return runCli({ parse: parseCommandLine, help: helpText, dispatch }, argv, runtime);
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
