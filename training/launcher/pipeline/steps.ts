import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { parseCommandLine } from '../cli/options';
import { aws } from '../lib/aws';
import { trainerHyperparameters } from '../lib/hyperparameters';
import { jobName } from '../lib/naming';
import { loadPlatform } from '../lib/platform';
import { s3Join } from '../lib/s3-uri';
import { createTrainingJobRequest } from '../lib/job-spec';
import { launcherJobSpec } from '../lib/training-job';
import type { ModelPackageStateChange } from '../lifecycle/approval';
import type { Lifecycle } from '../lifecycle/context';
import { clearCandidate, promote } from '../lifecycle/promote';
import { publish } from '../lifecycle/publish';
import { describePackage, findPackage, setApproval } from '../lifecycle/registry';
import { rollback } from '../lifecycle/rollback';
import { resolveBundle } from '../lifecycle/source';
import { versionMetrics } from '../lifecycle/status';
import { readAlias, readVersionManifest } from '../lifecycle/store';
import { judgeCanary, type CanaryVerdict, type VersionFigures } from './canary';
import { LOCK_KEY, PIPELINE_DATA_FOLDER, PIPELINE_ERRORS, type PipelinePolicy } from './contract';
import { gate, type GateResult } from './gate';
import { errorMessage, summary, type ExecutionRecord } from './summary';

/** Everything a step works with: the lifecycle library's context and the pipeline's clients. */
export interface PipelineContext {
  readonly lifecycle: Lifecycle;
  readonly team: { readonly team: string; readonly stage: string };
  readonly region: string;
  readonly policy: PipelinePolicy;
  readonly lockTable: string;
  readonly topicArn: string;
  readonly clients: {
    readonly s3: S3Client;
    readonly sagemaker: SageMakerClient;
    readonly ssm: SSMClient;
    readonly dynamodb: DynamoDBClient;
    readonly sfn: SFNClient;
    readonly sns: SNSClient;
    readonly cloudwatch: CloudWatchClient;
  };
}

const lockKey = (p: PipelineContext) => ({ [LOCK_KEY]: { S: `${p.team.team}/${p.team.stage}` } });

async function lockHolder(p: PipelineContext) {
  const res = await aws('reading the pipeline lock', () =>
    p.clients.dynamodb.send(
      new GetItemCommand({ TableName: p.lockTable, Key: lockKey(p), ConsistentRead: true }),
    ),
  );
  return res.Item;
}

async function isRunning(p: PipelineContext, executionArn: string): Promise<boolean> {
  try {
    const res = await p.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return res.status === 'RUNNING';
  } catch (err) {
    if ((err as Error).name === 'ExecutionDoesNotExist') return false;
    throw err;
  }
}

/**
 * One execution at a time per team environment: a conditional put of the team's lock item. A
 * lock whose holder no longer runs (stopped by hand, timed out) is taken over, so a lost
 * release never blocks the pipeline for good.
 */
export async function lock(
  p: PipelineContext,
  input: { executionArn: string },
): Promise<{ acquired: boolean; holder?: string }> {
  const item = (condition: string, values: Record<string, { S: string }>) =>
    new PutItemCommand({
      TableName: p.lockTable,
      Item: {
        ...lockKey(p),
        execution: { S: input.executionArn },
        since: { S: p.lifecycle.now().toISOString() },
      },
      ConditionExpression: condition,
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    });
  try {
    await p.clients.dynamodb.send(item(`attribute_not_exists(${LOCK_KEY})`, {}));
    return { acquired: true };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  const holder = (await lockHolder(p))?.execution?.S;
  if (holder === input.executionArn) return { acquired: true };
  if (holder && (await isRunning(p, holder))) return { acquired: false, holder };
  try {
    await p.clients.dynamodb.send(
      item(
        holder ? 'execution = :holder' : `attribute_not_exists(${LOCK_KEY})`,
        holder ? { ':holder': { S: holder } } : {},
      ),
    );
    return { acquired: true };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException)
      return { acquired: false, holder: (await lockHolder(p))?.execution?.S };
    throw err;
  }
}

/** Releases the lock if this execution holds it. */
export async function release(
  p: PipelineContext,
  input: { executionArn: string },
): Promise<{ released: boolean }> {
  try {
    await p.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: p.lockTable,
        Key: lockKey(p),
        ConditionExpression: 'execution = :me',
        ExpressionAttributeValues: { ':me': { S: input.executionArn } },
      }),
    );
    return { released: true };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { released: false };
    throw err;
  }
}

/**
 * The training job request: the launcher's own builder (`createTrainingJobRequest`, as in
 * `npm run train -- --mode sagemaker`) with the team's SSM parameters and the option table's
 * defaults, on the data set under `<data-s3-uri>/current/`.
 */
export async function prepare(p: PipelineContext): Promise<{ request: object; name: string }> {
  const { s3, ssm } = p.clients;
  const platform = await loadPlatform(ssm, p.team.team, p.team.stage, p.region, 'sagemaker');
  const { options } = parseCommandLine(
    ['--mode', 'sagemaker', '--team', p.team.team, '--stage', p.team.stage],
    {},
  );
  const data = s3Join(platform.dataS3Uri, PIPELINE_DATA_FOLDER);
  const channels: Record<string, string> = {};
  for (const channel of ['train', 'validation', 'test']) {
    const uri = `${s3Join(data, channel)}/`;
    const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!;
    const listed = await aws(`listing ${uri}`, () =>
      s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 })),
    );
    if ((listed.KeyCount ?? 0) > 0) channels[channel] = uri;
  }
  if (!channels.train)
    throw new Error(
      `no training data under ${data}/train/: the retraining pipeline trains on the data set the team's data pipeline writes there`,
    );
  const name = jobName(p.team, 'retrain', p.lifecycle.now());
  const request = createTrainingJobRequest(launcherJobSpec(platform, options), {
    name,
    channelUris: channels,
    hyperparameters: trainerHyperparameters(options, platform.objective),
  });
  // Every field the Train state passes on is present (an absent JSONPath fails the state).
  return { request: { ...request, Environment: request.Environment ?? {} }, name };
}

function readManifest(dir: string): { version: string; metrics?: Record<string, unknown> } {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as never;
  } catch (err) {
    throw Object.assign(
      new Error(`the candidate's manifest.json cannot be read: ${(err as Error).message}`),
      {
        name: 'GateInputError',
      },
    );
  }
}

export interface GateOutput extends GateResult {
  readonly candidateVersion: string;
  readonly productionVersion?: string;
}

/** The gate: the job's bundle against production's manifest (./gate.ts). */
export async function gateStep(
  p: PipelineContext,
  input: { artifact: string },
): Promise<GateOutput> {
  const { store } = p.lifecycle;
  const bundle = await resolveBundle(input.artifact, p.clients, undefined);
  try {
    const candidate = readManifest(bundle.dir);
    const production = (await readAlias(store, 'production')).alias;
    const productionManifest = production && (await readVersionManifest(store, production.version));
    if (production && !productionManifest)
      throw Object.assign(
        new Error(
          `production names ${production.version}, which has no manifest.json in the store`,
        ),
        {
          name: 'GateInputError',
        },
      );
    const result = gate(candidate, productionManifest as never, p.policy);
    return {
      ...result,
      candidateVersion: candidate.version,
      productionVersion: production?.version,
    };
  } finally {
    bundle.cleanup();
  }
}

/** Publish and register, with part 1's code: the same checks as `npm run model -- publish`. */
export async function publishStep(
  p: PipelineContext,
  input: { artifact: string; trainingJobArn?: string; executionArn: string },
) {
  const bundle = await resolveBundle(input.artifact, p.clients, undefined);
  try {
    const result = await publish(p.lifecycle, bundle.dir, {
      trainingJobArn: input.trainingJobArn,
      pipelineExecutionArn: input.executionArn,
    });
    return {
      version: result.version,
      packageArn: result.package.arn,
      packageStatus: result.package.status,
      madeProduction: result.madeProduction,
    };
  } finally {
    bundle.cleanup();
  }
}

/**
 * Parks the task token on the lock item: the registry's approval event resumes it. A decision
 * made before the token was parked (its event found nothing to resume) resumes it at once.
 */
export async function awaitApproval(
  p: PipelineContext,
  input: { executionArn: string; token: string; packageArn: string },
): Promise<{ waiting: boolean }> {
  await aws('recording the approval wait', () =>
    p.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: p.lockTable,
        Key: lockKey(p),
        UpdateExpression: 'SET approvalToken = :t, packageArn = :p',
        ConditionExpression: 'execution = :me',
        ExpressionAttributeValues: {
          ':t': { S: input.token },
          ':p': { S: input.packageArn },
          ':me': { S: input.executionArn },
        },
      }),
    ),
  );
  const early = await resume(p, { detail: { ModelPackageArn: input.packageArn } });
  return { waiting: !early.resumed };
}

/** SendTaskSuccess/Failure's answers for a token whose wait is over (resumed, timed out, stopped). */
const CLOSED_TOKEN = new Set(['TaskDoesNotExist', 'TaskTimedOut']);

/**
 * "SageMaker Model Package State Change": resumes the execution waiting for that package.
 * EventBridge delivers at least once: an event for a wait that is already over does nothing.
 */
export async function resume(
  p: PipelineContext,
  event: ModelPackageStateChange,
): Promise<{ resumed: boolean; status?: string }> {
  const arn = event.detail.ModelPackageArn;
  const item = await lockHolder(p);
  const token = item?.approvalToken?.S;
  if (!arn || !token || item?.packageArn?.S !== arn) return { resumed: false };
  const pkg = await describePackage(p.lifecycle.registry, arn);
  const { sfn } = p.clients;
  const send =
    pkg.status === 'Approved'
      ? () =>
          sfn.send(
            new SendTaskSuccessCommand({
              taskToken: token,
              output: JSON.stringify({ approvedBy: pkg.modifiedBy ?? null }),
            }),
          )
      : pkg.status === 'Rejected'
        ? () =>
            sfn.send(
              new SendTaskFailureCommand({
                taskToken: token,
                error: PIPELINE_ERRORS.rejected,
                cause: `rejected in the model registry${pkg.modifiedBy ? ` by ${pkg.modifiedBy}` : ''}${pkg.approvalDescription ? `: ${pkg.approvalDescription}` : ''}`,
              }),
            )
        : undefined;
  if (!send) return { resumed: false, status: pkg.status };
  try {
    await send();
  } catch (err) {
    if (CLOSED_TOKEN.has((err as Error).name)) return { resumed: false, status: pkg.status };
    throw err;
  }
  return { resumed: true, status: pkg.status };
}

/** Canary: the candidate alias at `pipeline.canaryPercent`, through `promote`. */
export async function canary(p: PipelineContext, input: { version: string }) {
  const result = await promote(p.lifecycle, input.version, {
    canaryPercent: p.policy.canaryPercent,
    reason: `retraining pipeline: canary at ${p.policy.canaryPercent}%`,
  });
  return { percent: result.trafficPercent };
}

export interface CheckOutput extends CanaryVerdict {
  /** What the state machine does next. */
  readonly decision: 'promote' | 'rollback' | 'extend';
  readonly extensions: number;
}

/** The canary check over the bake window: the candidate's own series against production's. */
export async function check(
  p: PipelineContext,
  input: { version: string; productionVersion: string; extensions?: number },
): Promise<CheckOutput> {
  const extensions = input.extensions ?? 0;
  const minutes = p.policy.bakeMinutes;
  const figures = await versionMetrics(
    p.clients.cloudwatch,
    { Team: p.team.team, Stage: p.team.stage, Model: p.lifecycle.store.modelName },
    [input.version, input.productionVersion],
    minutes,
    p.lifecycle.now(),
  );
  const totals = (version: string): VersionFigures => {
    const m = figures.get(version) ?? {};
    return {
      requests: m.requests ?? 0,
      errors: m.errors ?? 0,
      latencyP99Ms: m.latency,
      predictions: m.predictions ?? 0,
      lowConfidencePredictions: m.lowConfidence ?? 0,
    };
  };
  const verdict = judgeCanary(
    totals(input.version),
    totals(input.productionVersion),
    p.policy,
    minutes,
  );
  const extend =
    verdict.outcome === 'low-traffic' &&
    p.policy.lowTraffic === 'extend' &&
    extensions < p.policy.maxBakeExtensions;
  const decision = verdict.outcome === 'healthy' ? 'promote' : extend ? 'extend' : 'rollback';
  return { ...verdict, decision, extensions: extend ? extensions + 1 : extensions };
}

export async function promoteStep(p: PipelineContext, input: { version: string; reason: string }) {
  const result = await promote(p.lifecycle, input.version, {
    reason: `retraining pipeline: ${input.reason}`,
  });
  return { previous: result.previous ?? null };
}

export async function rollbackStep(p: PipelineContext, input: { reason: string }) {
  const result = await rollback(p.lifecycle, `retraining pipeline: ${input.reason}`);
  return { from: result.from, to: result.to };
}

/** The execution's state as the state machine passes it (`record: $`). */
type State = Omit<ExecutionRecord, 'outcome' | 'executionArn'>;

/**
 * After a failure or an approval timeout: the candidate is cleared if it is this execution's
 * version, and that version's package rejected unless production serves it. Production is
 * never touched.
 */
export async function cleanup(p: PipelineContext, input: { record: State }) {
  const version = input.record.publish?.version;
  if (!version) return { cleared: false, rejected: false };
  const why = `retraining pipeline: ${input.record.error ? errorMessage(input.record.error) : 'no registry approval in time'}`;
  const candidate = await readAlias(p.lifecycle.store, 'candidate');
  const cleared =
    candidate.alias?.version === version &&
    (await clearCandidate(p.lifecycle, why, candidate)) !== undefined;
  const production = (await readAlias(p.lifecycle.store, 'production')).alias?.version;
  const pkg = production === version ? undefined : await findPackage(p.lifecycle.registry, version);
  if (pkg) await setApproval(p.lifecycle.registry, pkg, 'Rejected', why);
  return { cleared, rejected: pkg !== undefined };
}

/** The summary to the team's topic: versions, the gate table, canary figures, the outcome. */
export async function notify(
  p: PipelineContext,
  input: { outcome: ExecutionRecord['outcome']; executionArn: string; record: State },
) {
  const record: ExecutionRecord = {
    ...input.record,
    outcome: input.outcome,
    executionArn: input.executionArn,
  };
  const { subject, message } = summary(p.lifecycle.store.modelName, p.team, record);
  const res = await aws('notifying the team topic', () =>
    p.clients.sns.send(
      new PublishCommand({ TopicArn: p.topicArn, Subject: subject, Message: message }),
    ),
  );
  return { messageId: res.MessageId ?? null, subject };
}
