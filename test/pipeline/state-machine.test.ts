/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateStateMachineCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { StateMachine } from 'aws-local-stepfunctions';
import { mockClient } from 'aws-sdk-client-mock';
import {
  SERVING_METRICS,
  SERVING_METRICS_NAMESPACE,
  SERVING_VERSION_DIMENSIONS,
} from '../../constructs/monitoring/serving-metrics';
import { handleModelPackageStateChange } from '../../training/launcher/lifecycle/approval';
import {
  describePackage,
  listPackages,
  setApproval,
} from '../../training/launcher/lifecycle/registry';
import { readAlias } from '../../training/launcher/lifecycle/store';
import type { PipelinePolicy } from '../../training/launcher/pipeline/contract';
import { runStep } from '../../training/launcher/pipeline/handler';
import type { PipelineContext } from '../../training/launcher/pipeline/steps';
import {
  BUCKET,
  bundle,
  GROUP,
  lifecycleOn,
  MODEL,
  motoS3,
  putArchive,
  putBytes,
  seedModelTeam,
  type Json,
} from '../lifecycle/fixtures';
import {
  DUMMY_CREDENTIALS,
  REGION,
  seedTeam,
  startMoto,
  type Moto,
} from '../training/aws-fixtures';
import { removeTempDirs } from '../training/helpers';
import {
  createLockTable,
  definitionOf,
  LOCK_TABLE,
  pipelineStack,
  POLICY,
} from './pipeline-fixtures';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); this suite also runs on Node 20.
const P = Promise as unknown as { withResolvers?: () => unknown };
P.withResolvers ??= () => {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const NOW = new Date('2026-12-01T10:05:00Z');
const ACCOUNT = '123456789012';
const STATE_MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:mlp-fraud-dev-retraining`;

const client = <T>(C: new (c: object) => T, moto: Moto): T =>
  new C({
    region: REGION,
    endpoint: moto.url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });

/** The synthesized definition (once: the pipeline's Lambda is bundled by esbuild). */
const { template } = pipelineStack();
const DEFINITION = definitionOf(template);
const STATES = DEFINITION.States as Record<string, Json>;

let moto: Moto;
let queueUrl: string;
let topicArn: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, DUMMY_CREDENTIALS);
  await seedTeam(moto, 'fraud', 'dev', {
    'output-s3-uri': `s3://${BUCKET}/training`,
    'data-s3-uri': 's3://fraud-dev-data/training',
  });
  await seedModelTeam(moto, 'auto');
  await putBytes(
    moto,
    's3://fraud-dev-data/training/current/train/data.csv',
    'tenure_months,plan\n3,pro\n',
  );
  await createLockTable(client(DynamoDBClient, moto));
  // The team topic, with a queue subscribed so the test reads what was notified.
  const sns = client(SNSClient, moto);
  const sqs = client(SQSClient, moto);
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'mlp-fraud-dev-alarms' }))).TopicArn!;
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'notifications' }))).QueueUrl!;
  const queueArn = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes!.QueueArn!;
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueArn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
});

afterAll(async () => {
  removeTempDirs();
  process.env = savedEnv;
  await moto.stop();
});

/** The step handler's context on moto, as pipelineFromEnv builds it in the Lambda. */
function pipelineOn(
  policy: PipelinePolicy = POLICY,
  approval: 'manual' | 'auto' = 'auto',
): PipelineContext {
  const s3 = motoS3(moto);
  const lifecycle = {
    ...lifecycleOn(moto, s3),
    now: () => NOW,
    actor: async () => 'retraining-pipeline:test',
  };
  return {
    lifecycle: { ...lifecycle, registry: { ...lifecycle.registry, approval } },
    team: { team: 'fraud', stage: 'dev' },
    region: REGION,
    policy,
    lockTable: LOCK_TABLE,
    topicArn,
    clients: {
      s3,
      sagemaker: lifecycle.registry.sagemaker,
      ssm: client(SSMClient, moto),
      dynamodb: client(DynamoDBClient, moto),
      sfn: client(SFNClient, moto),
      sns: client(SNSClient, moto),
      cloudwatch: client(CloudWatchClient, moto),
    },
  };
}

async function notifications(): Promise<string[]> {
  const sqs = client(SQSClient, moto);
  const out: string[] = [];
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    if (!res.Messages?.length) return out;
    out.push(...res.Messages.map((m) => m.Body!));
    // moto makes received messages invisible: the next call returns the rest.
  }
}

/** What the stand-in training step writes: a real bundle with these test metrics, as model.tar.gz. */
interface Trained {
  readonly version: string;
  readonly f1: number;
  readonly segments?: Record<string, { f1: number; n: number }>;
}

function withMetrics(m: Json, t: Trained) {
  m.metrics = {
    ...m.metrics,
    objective: { metric: 'f1', parameter: null, target: null },
    verdict: {
      value: t.f1,
      target_met: null,
      best_baseline: 'majority',
      best_baseline_value: 0,
      margin: t.f1,
      beats_baselines: true,
    },
    ...(t.segments ? { segments: { column: 'region', values: t.segments } } : {}),
  };
}

/** Per-version serving metrics in the bake window, as the service's EMF lines would leave them. */
async function serve(
  version: string,
  f: { requests: number; errors: number; p99: number; low: number },
) {
  const cloudwatch = client(CloudWatchClient, moto);
  const dims = { Team: 'fraud', Stage: 'dev', Model: MODEL, Version: version };
  const at = new Date(NOW.getTime() - 5 * 60_000);
  const datum = (name: string, value: number) => ({
    MetricName: name,
    Value: value,
    Timestamp: at,
    Dimensions: SERVING_VERSION_DIMENSIONS.map((Name) => ({ Name, Value: dims[Name] })),
  });
  await cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: SERVING_METRICS_NAMESPACE,
      MetricData: [
        datum(SERVING_METRICS.requests, f.requests),
        datum(SERVING_METRICS.errors, f.errors),
        datum(SERVING_METRICS.latencyP99, f.p99),
        datum(SERVING_METRICS.predictions, f.requests),
        datum(SERVING_METRICS.lowConfidencePredictions, f.low),
      ],
    }),
  );
}

interface Run {
  readonly output?: Json;
  readonly error?: Error;
  readonly entered: string[];
  /** The execution's name: its task token is `token-of-<name>`. */
  readonly name: string;
  /** What each delivery of the registry's event did: [approval Lambda, pipeline resume]. */
  readonly deliveries: Json[][];
}

/** A reviewer's decision in the model registry while the execution waits for it. */
interface Decision {
  readonly status: 'Approved' | 'Rejected';
  readonly note: string;
  /** Made before the execution parked its task token (the event finds nothing to resume). */
  readonly beforeTheWait?: boolean;
  /** EventBridge delivers at least once: the event arrives this many times (default 1). */
  readonly deliveries?: number;
}

/**
 * Step Functions' task-token calls, answered by the local run: moto runs no executions, so the
 * SendTaskSuccess/SendTaskFailure of the pipeline's Lambda (its SDK boundary, mocked here)
 * settle the waiting state of aws-local-stepfunctions. A token whose wait is over is answered
 * as Step Functions answers it: TaskTimedOut ("already been closed").
 */
function taskTokens() {
  const waiting = new Map<string, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  const sfn = client(SFNClient, moto);
  const mock = mockClient(sfn);
  const settle = (token: string | undefined) => {
    const wait = waiting.get(token ?? '');
    if (!wait)
      throw Object.assign(new Error('Task Timed Out: the task has already been closed'), {
        name: 'TaskTimedOut',
      });
    waiting.delete(token!);
    return wait;
  };
  mock.on(SendTaskSuccessCommand).callsFake(async (input) => {
    settle(input.taskToken).resolve(JSON.parse(input.output));
    return {};
  });
  mock.on(SendTaskFailureCommand).callsFake(async (input) => {
    settle(input.taskToken).reject(Object.assign(new Error(input.cause), { name: input.error }));
    return {};
  });
  return {
    sfn,
    mock,
    /** The waiting state's result: what SendTaskSuccess sends, or SendTaskFailure's error. */
    wait: (token: string) =>
      new Promise<Json>((resolve, reject) => waiting.set(token, { resolve, reject })),
  };
}

let executions = 0;

/**
 * Runs the synthesized definition with aws-local-stepfunctions: every Lambda Task state calls
 * the real step handler against moto; Train is a stand-in that writes a real bundle (or fails);
 * the bakes take no time.
 */
async function execute(opts: {
  train: Trained | 'fail';
  policy?: PipelinePolicy;
  /** The stage's registry approval (training.approval). */
  registry?: 'manual' | 'auto';
  /** Manual stages: the registry never answers, or a reviewer decides. */
  approval?: 'never' | Decision;
  /** The task-token bridge a decision resumes the run through. */
  tokens?: ReturnType<typeof taskTokens>;
  executionArn?: string;
}): Promise<Run> {
  const p = pipelineOn(opts.policy, opts.registry);
  const name = `run-${++executions}`;
  const executionArn =
    opts.executionArn ??
    `arn:aws:states:${REGION}:${ACCOUNT}:execution:mlp-fraud-dev-retraining:${name}`;
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  for (const [stateName, state] of Object.entries(STATES)) {
    if (state.Type !== 'Task') continue;
    if (String(state.Resource).startsWith('arn:aws:lambda:'))
      handlers[stateName] = async (input) => (await runStep(p, input)) as Json;
  }
  handlers.Train = async (request: Json) => {
    if (opts.train === 'fail')
      throw Object.assign(new Error('AlgorithmError: training diverged'), {
        name: 'States.TaskFailed',
      });
    const trained = opts.train;
    const dir = bundle(trained.version, ({ manifest }) => withMetrics(manifest, trained));
    const artifact = `s3://${BUCKET}/training/${request.TrainingJobName}/output/model.tar.gz`;
    await putArchive(moto, dir, artifact);
    return {
      TrainingJobArn: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:training-job/${request.TrainingJobName}`,
      ModelArtifacts: { S3ModelArtifacts: artifact },
    };
  };
  // A JSON copy: structuredClone makes objects of Node's main realm, which jest's realm (and
  // so aws-local-stepfunctions' plain-object check on nested payloads) does not recognise.
  const definition = JSON.parse(JSON.stringify(DEFINITION)) as Json;
  if (opts.approval === 'never') {
    // The registry never answers: the real state's timeout, shortened from 72 hours to 1 second.
    const wait = (definition.States as Record<string, Json>)['Wait for approval'];
    wait.TimeoutSeconds = 1;
    handlers['Wait for approval'] = async (input: Json) => {
      await runStep(p, input.Payload);
      return new Promise(() => undefined);
    };
  }
  const deliveries: Json[][] = [];
  const decision = opts.approval;
  if (decision && decision !== 'never') {
    // The Lambda's SendTask* calls go to this run; everything else to moto.
    const tokens = opts.tokens!;
    const withTokens: PipelineContext = { ...p, clients: { ...p.clients, sfn: tokens.sfn } };
    // A resume that never comes ends in the timeout path (10 seconds), not a hung test.
    (definition.States as Record<string, Json>)['Wait for approval'].TimeoutSeconds = 10;
    const decide = async (packageArn: string) => {
      // The reviewer's UpdateModelPackage, then the event both rules deliver to their Lambdas.
      const { registry } = withTokens.lifecycle;
      await setApproval(
        registry,
        await describePackage(registry, packageArn),
        decision.status,
        decision.note,
      );
      const event = {
        'detail-type': 'SageMaker Model Package State Change',
        detail: { ModelPackageArn: packageArn, ModelPackageGroupName: GROUP },
      };
      for (let i = 0; i < (decision.deliveries ?? 1); i++)
        deliveries.push([
          await handleModelPackageStateChange(withTokens.lifecycle, event),
          await runStep(withTokens, event),
        ]);
    };
    handlers['Wait for approval'] = async (input: Json) => {
      const { token, packageArn } = input.Payload;
      const result = tokens.wait(token);
      if (decision.beforeTheWait) await decide(packageArn);
      await runStep(withTokens, input.Payload);
      if (!decision.beforeTheWait) await decide(packageArn);
      return result;
    };
  }
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(
    { trigger: 'cli' },
    {
      overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: { Bake: 0 } },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: NOW.toISOString() },
        StateMachine: { Id: STATE_MACHINE, Name: 'mlp-fraud-dev-retraining' },
        Task: { Token: `token-of-${name}` },
      },
    },
  );
  const entered: string[] = [];
  const logs = (async () => {
    for await (const e of execution.eventLogs)
      if (e.type === 'StateEntered') entered.push(e.state.name);
  })();
  try {
    const output = (await execution.result) as Json;
    await logs;
    return { output, entered, deliveries, name };
  } catch (error) {
    await logs.catch(() => undefined);
    return { error: error as Error, entered, deliveries, name };
  }
}

async function aliases() {
  const store = lifecycleOn(moto, motoS3(moto)).store;
  const [production, candidate] = await Promise.all([
    readAlias(store, 'production'),
    readAlias(store, 'candidate'),
  ]);
  return {
    production: production.alias?.version,
    candidate: candidate.alias?.version,
    candidateShare: candidate.alias?.traffic_percent,
  };
}

async function packageStatus(version: string) {
  const packages = await listPackages(lifecycleOn(moto, motoS3(moto)).registry);
  return packages.find((p) => p.version === version)?.status;
}

/** The team's lock item (undefined once released). */
async function lockItem() {
  const res = await client(DynamoDBClient, moto).send(
    new GetItemCommand({ TableName: LOCK_TABLE, Key: { pk: { S: 'fraud/dev' } } }),
  );
  return res.Item;
}

/** Who moto says last changed a package (LastModifiedBy.UserProfileName). */
const REVIEWER = 'fake-user-profile-name';

const SEGMENTS = (us: number) => ({ eu: { f1: 0.6, n: 400 }, us: { f1: us, n: 300 } });

describe('the synthesized retraining state machine, run locally against moto', () => {
  // The cases build on each other, in order: one team's store, as it evolves.
  test('the first model is promoted', async () => {
    const run = await execute({ train: { version: 'v1', f1: 0.55, segments: SEGMENTS(0.5) } });
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual(
      expect.arrayContaining([
        'Acquire lock',
        'Prepare training job',
        'Train',
        'Gate',
        'Publish and register',
        'Notify first-model',
        'Release lock',
        'Done',
      ]),
    );
    expect(run.entered).not.toContain('Canary');
    expect(await aliases()).toMatchObject({ production: 'v1' });
    expect(await packageStatus('v1')).toBe('Approved');
    const [message] = await notifications();
    expect(message).toContain(
      'Retraining of churn (fraud/dev): promoted: the first model is production',
    );
    expect(message).toContain('Gate (f1): first model: f1 0.55: 1 check passed');
  });

  test('a worse candidate is rejected by the gate: production and the aliases are unchanged', async () => {
    const before = await aliases();
    const run = await execute({ train: { version: 'v2', f1: 0.4, segments: SEGMENTS(0.5) } });
    expect(run.error).toBeUndefined();
    expect(run.entered).toContain('Notify gate-rejected');
    expect(run.entered).not.toContain('Publish and register');
    expect(await aliases()).toEqual(before);
    expect(await packageStatus('v2')).toBeUndefined();
    const [message] = await notifications();
    expect(message).toContain('not promoted: the candidate failed the gate');
    expect(message).toContain(
      "f1 0.4 misses production's 0.55 x (1 - 0.005) = 0.5473 (training.promotionMargin)",
    );
    expect(message).toContain('| f1 | 0.4 | 0.55 | >= 0.5473 | NO |');
  });

  test('a better candidate with a healthy canary is promoted', async () => {
    await serve('v3', { requests: 1000, errors: 1, p99: 41, low: 90 });
    await serve('v1', { requests: 4000, errors: 4, p99: 40, low: 400 });
    const run = await execute({ train: { version: 'v3', f1: 0.6, segments: SEGMENTS(0.51) } });
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual(
      expect.arrayContaining(['Canary', 'Bake', 'Canary check', 'Promote', 'Notify promoted']),
    );
    expect(await aliases()).toMatchObject({ production: 'v3', candidateShare: 0 });
    expect(await packageStatus('v3')).toBe('Approved');
    const [message] = await notifications();
    expect(message).toContain('promoted: the candidate is production');
    expect(message).toContain('Canary: healthy: 1000 requests in 15 minutes');
    expect(message).toContain('| candidate | 1000 | 0.1% | 41 ms | 9% |');
  });

  test('a canary with a high error rate is rolled back', async () => {
    await serve('v4', { requests: 1000, errors: 80, p99: 41, low: 90 });
    await serve('v3', { requests: 4000, errors: 4, p99: 40, low: 400 });
    const run = await execute({ train: { version: 'v4', f1: 0.61, segments: SEGMENTS(0.51) } });
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual(
      expect.arrayContaining(['Canary check', 'Roll back', 'Notify rolled-back']),
    );
    expect(await aliases()).toMatchObject({ production: 'v3', candidate: 'v4', candidateShare: 0 });
    expect(await packageStatus('v4')).toBe('Rejected');
    const [message] = await notifications();
    expect(message).toContain('rolled back: the canary did not hold');
    expect(message).toContain(
      'Canary: unhealthy: error rate 8% above 1.1% (production 0.1% + pipeline.canary.maxErrorRateIncrease 0.01)',
    );
  });

  test('a canary with too little traffic bakes again up to the limit, then is rolled back (lowTraffic: extend)', async () => {
    await serve('v5', { requests: 10, errors: 0, p99: 41, low: 1 });
    const run = await execute({ train: { version: 'v5', f1: 0.62, segments: SEGMENTS(0.51) } });
    expect(run.error).toBeUndefined();
    expect(run.entered.filter((s) => s === 'Canary check')).toHaveLength(
      POLICY.maxBakeExtensions + 1,
    );
    expect(run.entered).toContain('Roll back');
    expect(await aliases()).toMatchObject({ production: 'v3', candidateShare: 0 });
    const [message] = await notifications();
    expect(message).toContain(
      'Canary: low-traffic: the candidate answered 10 requests in 15 minutes, fewer than the 100 needed to judge it (pipeline.minCanaryRequests)',
    );
  });

  test('a canary with too little traffic is rolled back at once (lowTraffic: rollback)', async () => {
    await serve('v6', { requests: 10, errors: 0, p99: 41, low: 1 });
    const run = await execute({
      train: { version: 'v6', f1: 0.62, segments: SEGMENTS(0.51) },
      policy: { ...POLICY, lowTraffic: 'rollback' },
    });
    expect(run.entered.filter((s) => s === 'Canary check')).toHaveLength(1);
    expect(run.entered).toContain('Roll back');
    expect(await aliases()).toMatchObject({ production: 'v3', candidateShare: 0 });
    await notifications();
  });

  test('a training failure notifies and leaves production untouched', async () => {
    const before = await aliases();
    const run = await execute({ train: 'fail' });
    expect(run.error?.message).toMatch(/AlgorithmError: training diverged/);
    expect(run.entered).toEqual(
      expect.arrayContaining(['Train', 'Clean up', 'Notify failed', 'Release lock', 'Failed']),
    );
    expect(await aliases()).toEqual(before);
    const [message] = await notifications();
    expect(message).toContain('failed: nothing was promoted, production is unchanged');
    expect(message).toContain('error: States.TaskFailed');
  });

  test('a second trigger while an execution runs is skipped, and says so', async () => {
    // GIVEN an execution that holds the lock and runs (in moto's Step Functions)
    const sfn = client(SFNClient, moto);
    const machine = await sfn.send(
      new CreateStateMachineCommand({
        name: 'mlp-fraud-dev-retraining',
        definition: JSON.stringify({
          StartAt: 'W',
          States: { W: { Type: 'Wait', Seconds: 3600, End: true } },
        }),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/sfn`,
      }),
    );
    const running = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn!, name: 'long' }),
    );
    const first = await runStep(pipelineOn(), {
      step: 'lock',
      executionArn: running.executionArn!,
    });
    expect(first).toEqual({ acquired: true });
    // WHEN a second trigger starts an execution
    const run = await execute({ train: { version: 'v9', f1: 0.9 } });
    // THEN it trains nothing, notifies, and leaves the lock to the running one
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual([
      'Acquire lock',
      'Lock acquired?',
      'Notify skipped',
      'Release lock',
      'Failed?',
      'Done',
    ]);
    const [message] = await notifications();
    expect(message).toContain('skipped: another execution is running');
    expect(message).toContain(`running execution: ${running.executionArn}`);
    expect(
      await runStep(pipelineOn(), { step: 'release', executionArn: running.executionArn! }),
    ).toEqual({ released: true });
  });

  test('a manual-approval timeout ends cleanly: the package is rejected, nothing is promoted', async () => {
    // GIVEN a stage with manual approval, and a registry that never answers
    const before = await aliases();
    const run = await execute({
      train: { version: 'v7', f1: 0.63, segments: SEGMENTS(0.51) },
      registry: 'manual',
      approval: 'never',
    });
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual(
      expect.arrayContaining([
        'Wait for approval',
        'Reject unapproved package',
        'Notify approval-timeout',
        'Done',
      ]),
    );
    expect(run.entered).not.toContain('Canary');
    expect(await aliases()).toEqual(before);
    expect(await packageStatus('v7')).toBe('Rejected');
    const [message] = await notifications();
    expect(message).toContain('not promoted: no registry approval in time');
  });
  test("a manual-approval stage: the reviewer's approval resumes the execution through the canary to promotion", async () => {
    // GIVEN a healthy canary to come, and a reviewer who approves the package (the event twice)
    await serve('v10', { requests: 1000, errors: 1, p99: 41, low: 90 });
    const tokens = taskTokens();
    // WHEN the execution waits for the registry
    const run = await execute({
      train: { version: 'v10', f1: 0.64, segments: SEGMENTS(0.51) },
      registry: 'manual',
      approval: { status: 'Approved', note: 'reviewed: segments hold', deliveries: 2 },
      tokens,
    });
    // THEN the approval resumes it: canary, bake, check, promotion
    expect(run.error).toBeUndefined();
    const after = run.entered.slice(run.entered.indexOf('Wait for approval'));
    expect(after).toEqual([
      'Wait for approval',
      'Production exists?',
      'Canary',
      'Start bake',
      'Bake',
      'Canary check',
      'Canary healthy?',
      'Promote',
      'Notify promoted',
      'Release lock',
      'Failed?',
      'Done',
    ]);
    const token = `token-of-${run.name}`;
    // The first delivery resumed it; the second found the wait closed and did nothing.
    expect(tokens.mock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: token, output: JSON.stringify({ approvedBy: REVIEWER }) },
      { taskToken: token, output: JSON.stringify({ approvedBy: REVIEWER }) },
    ]);
    expect(tokens.mock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    const leftToPipeline = {
      action: 'ignored',
      version: 'v10',
      why: `the retraining pipeline execution that registered it rolls it out (arn:aws:states:${REGION}:${ACCOUNT}:execution:mlp-fraud-dev-retraining:${run.name})`,
    };
    expect(run.deliveries).toEqual([
      [leftToPipeline, { resumed: true, status: 'Approved' }],
      [leftToPipeline, { resumed: false, status: 'Approved' }],
    ]);
    expect(run.output?.approval).toEqual({ approvedBy: REVIEWER });
    expect(await aliases()).toMatchObject({ production: 'v10', candidateShare: 0 });
    expect(await packageStatus('v10')).toBe('Approved');
    expect(await lockItem()).toBeUndefined();
    const [message] = await notifications();
    expect(message).toContain('promoted: the candidate is production');
    expect(message).toContain(`approved in the model registry by ${REVIEWER}`);
    expect(message).toContain('Canary: healthy: 1000 requests in 15 minutes');
  });

  test('a manual-approval stage: a rejection ends the execution cleanly, production and the candidate untouched, the team told why', async () => {
    // GIVEN a reviewer who rejects the package
    const before = await aliases();
    const tokens = taskTokens();
    // WHEN the execution waits for the registry
    const run = await execute({
      train: { version: 'v11', f1: 0.65, segments: SEGMENTS(0.51) },
      registry: 'manual',
      approval: { status: 'Rejected', note: 'segment us regressed in review' },
      tokens,
    });
    // THEN it ends without a canary or an error, the lock released
    expect(run.error).toBeUndefined();
    expect(run.entered.slice(run.entered.indexOf('Wait for approval'))).toEqual([
      'Wait for approval',
      'Notify approval-rejected',
      'Release lock',
      'Failed?',
      'Done',
    ]);
    expect(tokens.mock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      {
        taskToken: `token-of-${run.name}`,
        error: 'ModelPackageRejected',
        cause: `rejected in the model registry by ${REVIEWER}: segment us regressed in review`,
      },
    ]);
    expect(run.deliveries).toEqual([
      [
        {
          action: 'ignored',
          version: 'v11',
          why: 'rejected, but not the candidate (rollback moves production)',
        },
        { resumed: true, status: 'Rejected' },
      ],
    ]);
    // The candidate alias never named v11 (the canary comes after approval); production stays.
    expect(await aliases()).toEqual(before);
    expect(before.candidate).not.toBe('v11');
    expect(await packageStatus('v11')).toBe('Rejected');
    expect(await lockItem()).toBeUndefined();
    const [message] = await notifications();
    expect(message).toContain('not promoted: the package was rejected in the registry');
    expect(message).toContain(
      `rejected in the model registry by ${REVIEWER}: segment us regressed in review`,
    );
    expect(message).toContain('candidate: v11');
  });

  test('a decision made before the execution parked its token resumes it at once', async () => {
    // GIVEN a reviewer faster than the state transition: the event comes before the wait
    await serve('v12', { requests: 1000, errors: 1, p99: 41, low: 90 });
    const tokens = taskTokens();
    const run = await execute({
      train: { version: 'v12', f1: 0.66, segments: SEGMENTS(0.51) },
      registry: 'manual',
      approval: { status: 'Approved', note: 'pre-approved', beforeTheWait: true },
      tokens,
    });
    // THEN the event found no wait, and the wait step itself saw the decision and resumed
    expect(run.deliveries.map(([, resumed]) => resumed)).toEqual([{ resumed: false }]);
    expect(tokens.mock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual(expect.arrayContaining(['Promote', 'Notify promoted', 'Done']));
    expect(await aliases()).toMatchObject({ production: 'v12' });
    await notifications();
  });
});
