import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { lock, type PipelineContext } from '../../training/launcher/pipeline/steps';
import { DUMMY_CREDENTIALS, REGION, startMoto, type Moto } from '../training/aws-fixtures';
import { createLockTable, LOCK_TABLE } from './pipeline-fixtures';

const ACCOUNT = '123456789012';
const KEY = { pk: { S: 'fraud/dev' } };
const NOW = new Date('2026-12-01T10:05:00Z');
const execution = (name: string) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:execution:mlp-fraud-dev-retraining:${name}`;

let moto: Moto;
let dynamodb: DynamoDBClient;
let sfn: SFNClient;
let machineArn: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, DUMMY_CREDENTIALS);
  const config = {
    region: REGION,
    endpoint: moto.url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  dynamodb = new DynamoDBClient(config);
  sfn = new SFNClient(config);
  await createLockTable(dynamodb);
  // Executions of it stay RUNNING in moto (it runs no state machine) until stopped.
  machineArn = await createMachine('mlp-fraud-dev-retraining', {
    StartAt: 'W',
    States: { W: { Type: 'Wait', Seconds: 3600, End: true } },
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await moto.stop();
});

beforeEach(() => dynamodb.send(new DeleteItemCommand({ TableName: LOCK_TABLE, Key: KEY })));

async function createMachine(name: string, definition: object): Promise<string> {
  const machine = await sfn.send(
    new CreateStateMachineCommand({
      name,
      definition: JSON.stringify(definition),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/sfn`,
    }),
  );
  return machine.stateMachineArn!;
}

/** What the lock step uses of the pipeline's context: the team's key, the table, two clients. */
function lockContext(clients: { sfn: SFNClient; dynamodb?: DynamoDBClient }): PipelineContext {
  return {
    team: { team: 'fraud', stage: 'dev' },
    lockTable: LOCK_TABLE,
    lifecycle: { now: () => NOW },
    clients: { dynamodb, ...clients },
  } as unknown as PipelineContext;
}

/** The lock item as a stale holder left it (its release never ran). */
async function heldBy(holder: string) {
  await dynamodb.send(
    new PutItemCommand({
      TableName: LOCK_TABLE,
      Item: { ...KEY, execution: { S: holder }, since: { S: '2026-11-30T08:00:00.000Z' } },
    }),
  );
}

async function holderNow() {
  const item = (await dynamodb.send(new GetItemCommand({ TableName: LOCK_TABLE, Key: KEY }))).Item;
  return { execution: item?.execution?.S, since: item?.since?.S };
}

async function startExecution(name: string) {
  return (await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, name })))
    .executionArn!;
}

describe('the retraining lock (DynamoDB and Step Functions on moto)', () => {
  test('a free lock is taken', async () => {
    expect(await lock(lockContext({ sfn }), { executionArn: execution('first') })).toEqual({
      acquired: true,
    });
    expect(await holderNow()).toEqual({
      execution: execution('first'),
      since: NOW.toISOString(),
    });
  });

  test('a lock held by a RUNNING execution is not taken: skipped, with the holder named', async () => {
    const running = await startExecution('still-running');
    await heldBy(running);
    expect(await lock(lockContext({ sfn }), { executionArn: execution('newcomer') })).toEqual({
      acquired: false,
      holder: running,
    });
    expect((await holderNow()).execution).toBe(running);
  });

  test('the holder asking again keeps its lock (a retried lock step)', async () => {
    const running = await startExecution('retried');
    await heldBy(running);
    expect(await lock(lockContext({ sfn }), { executionArn: running })).toEqual({
      acquired: true,
    });
  });

  test('a lock whose holder was stopped (ABORTED) is taken over', async () => {
    const stopped = await startExecution('stopped-by-hand');
    await sfn.send(new StopExecutionCommand({ executionArn: stopped }));
    await heldBy(stopped);
    expect(await lock(lockContext({ sfn }), { executionArn: execution('after-stop') })).toEqual({
      acquired: true,
    });
    expect(await holderNow()).toEqual({
      execution: execution('after-stop'),
      since: NOW.toISOString(),
    });
  });

  test('a lock whose holder Step Functions does not know (ExecutionDoesNotExist) is taken over', async () => {
    await heldBy(execution('deleted-long-ago'));
    expect(await lock(lockContext({ sfn }), { executionArn: execution('after-unknown') })).toEqual({
      acquired: true,
    });
    expect((await holderNow()).execution).toBe(execution('after-unknown'));
  });

  test('two takers of a stale lock: the write is conditional on the old holder, so one wins', async () => {
    // GIVEN a lock left by a stopped execution
    const stale = await startExecution('stale');
    await sfn.send(new StopExecutionCommand({ executionArn: stale }));
    await heldBy(stale);
    // WHEN taker B has read the stale holder and, while it asks Step Functions about it,
    // taker A runs its whole takeover (the window two Lambdas can race in)
    let first: Awaited<ReturnType<typeof lock>> | undefined;
    const slowSfn = {
      send: async (command: DescribeExecutionCommand) => {
        first ??= await lock(lockContext({ sfn }), { executionArn: execution('taker-a') });
        return sfn.send(command);
      },
    } as unknown as SFNClient;
    const second = await lock(lockContext({ sfn: slowSfn }), {
      executionArn: execution('taker-b'),
    });
    // THEN A holds the lock, and B, whose write named the stale holder, is told A holds it
    expect(first).toEqual({ acquired: true });
    expect(second).toEqual({ acquired: false, holder: execution('taker-a') });
    expect((await holderNow()).execution).toBe(execution('taker-a'));
  });
});

describe('the retraining lock after its holder ended (moto running the holder state machine)', () => {
  const ENDINGS: Record<string, object> = {
    SUCCEEDED: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
    FAILED: { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'test' } } },
    TIMED_OUT: {
      StartAt: 'W',
      TimeoutSeconds: 1,
      States: { W: { Type: 'Wait', Seconds: 30, End: true } },
    },
  };

  beforeEach(async () => {
    // moto 5.2.1 runs one execution of an executing state machine per reset (retrain-cli.test.ts).
    await fetch(`${moto.url}/moto-api/reset`, { method: 'POST' });
    await fetch(`${moto.url}/moto-api/config`, {
      method: 'POST',
      body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
    });
    await createLockTable(dynamodb);
  });

  test.each(Object.keys(ENDINGS))('a lock whose holder ended %s is taken over', async (status) => {
    // GIVEN a holder execution that ended without releasing the lock
    const arn = await createMachine('mlp-fraud-dev-retraining', ENDINGS[status]);
    const holder = (await sfn.send(new StartExecutionCommand({ stateMachineArn: arn })))
      .executionArn!;
    for (let i = 0; i < 50; i++) {
      const { status: now } = await sfn.send(
        new DescribeExecutionCommand({ executionArn: holder }),
      );
      if (now !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: holder }))).status).toBe(
      status,
    );
    await heldBy(holder);
    // WHEN the next execution asks for the lock, THEN it takes it over
    expect(
      await lock(lockContext({ sfn }), { executionArn: execution(`after-${status}`) }),
    ).toEqual({
      acquired: true,
    });
    expect((await holderNow()).execution).toBe(execution(`after-${status}`));
  });
});
