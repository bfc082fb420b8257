import { GetParameterCommand } from '@aws-sdk/client-ssm';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type DescribeExecutionOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { JobFailedError, StackNotDeployedError } from '../cli/errors';
import type { ParsedRetrainCommandLine } from '../cli/retrain-options';
import type { Runtime } from '../cli/runtime';
import { aws, clientConfig, makeClients } from '../lib/aws';
import { follow } from '../lib/follow';
import { jobName } from '../lib/naming';
import { requireTeam } from '../lib/platform';
import { trainingParameterPath } from '../../../lib/naming';
import { STATE_MACHINE_PARAMETER } from '../pipeline/contract';

const DONE = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** The execution and the states it entered so far (each printed once). */
interface Progress {
  readonly execution: DescribeExecutionOutput;
  readonly entered: readonly string[];
}

async function enteredStates(sfn: SFNClient, executionArn: string): Promise<string[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(`reading the history of ${executionArn}`, () =>
      sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 })),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events.flatMap((e) =>
    e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
  );
}

/** `npm run retrain`: starts an execution of the team's pipeline and follows it. */
export async function runRetrain(
  parsed: ParsedRetrainCommandLine,
  runtime: Runtime,
  sfn?: SFNClient,
) {
  const { options } = parsed;
  const team = { team: requireTeam(options.team), stage: options.stage };
  const clients = makeClients(options);
  sfn ??= new SFNClient(clientConfig(options).common);
  const name = `${trainingParameterPath(team)}/${STATE_MACHINE_PARAMETER}`;
  const parameter = await aws(`reading SSM parameter ${name}`, () =>
    clients.ssm.send(new GetParameterCommand({ Name: name })),
  ).catch((err: Error) => {
    if (err.name === 'ParameterNotFound')
      throw new StackNotDeployedError(
        `team '${team.team}' stage '${team.stage}' has no retraining pipeline in ${clients.region}: ` +
          `SSM parameter ${name} is missing (add a pipeline section to the team file and deploy)`,
      );
    throw err;
  });
  const stateMachineArn = parameter.Parameter!.Value!;
  const started = await aws(`starting ${stateMachineArn}`, () =>
    sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: jobName(team, 'retrain', runtime.now(), 80),
        input: JSON.stringify({ trigger: 'cli' }),
      }),
    ),
  );
  const executionArn = started.executionArn!;
  const region = clients.region;
  runtime.stderr(
    `started ${executionArn}: https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`,
  );
  if (options.noFollow) {
    runtime.stdout(executionArn);
    return;
  }
  const { state } = await follow<Progress>(
    {
      what: `execution ${executionArn.split(':').pop()}`,
      hint: `see it with: aws stepfunctions describe-execution --execution-arn ${executionArn}`,
      describe: async () => ({
        execution: await aws(`describing ${executionArn}`, () =>
          sfn.send(new DescribeExecutionCommand({ executionArn })),
        ),
        entered: await enteredStates(sfn, executionArn),
      }),
      report: (now, before) => [
        ...now.entered.slice(before?.entered.length ?? 0).map((s) => `-> ${s}`),
        ...(now.execution.status !== before?.execution.status
          ? [`execution ${now.execution.status}`]
          : []),
      ],
      isDone: (s) => DONE.has(s.execution.status ?? ''),
      stop: async () => {
        await aws(`stopping ${executionArn}`, () =>
          sfn.send(
            new StopExecutionCommand({ executionArn, cause: 'stopped from npm run retrain' }),
          ),
        );
      },
    },
    runtime,
    options.pollSeconds * 1000,
  );
  const { status, output, error, cause } = state.execution;
  if (status !== 'SUCCEEDED')
    throw new JobFailedError(
      `retraining execution ${executionArn} ended ${status}${error ? `: ${error}` : ''}${cause ? `: ${cause}` : ''}`,
    );
  runtime.stdout(output ?? '{}');
}
