import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { ModelPackageStateChange } from '../lifecycle/approval';
import { PIPELINE_HANDLER_ENV, type PipelinePolicy, type PipelineStep } from './contract';
import * as steps from './steps';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Built once per Lambda instance from the environment its construct sets. */
export function pipelineFromEnv(): steps.PipelineContext {
  const e = PIPELINE_HANDLER_ENV;
  const approval = required(e.approval);
  if (approval !== 'manual' && approval !== 'auto')
    throw new Error(`environment variable ${e.approval} must be manual or auto, got '${approval}'`);
  const s3 = new S3Client({});
  const sagemaker = new SageMakerClient({});
  return {
    lifecycle: {
      store: {
        s3,
        bucket: required(e.bucket),
        modelName: required(e.modelName),
        kmsKeyArn: required(e.kmsKeyArn),
      },
      registry: { sagemaker, group: required(e.group), approval },
      now: () => new Date(),
      actor: async () => `retraining-pipeline:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local'}`,
    },
    team: { team: required(e.team), stage: required(e.stage) },
    region: required('AWS_REGION'),
    policy: JSON.parse(required(e.policy)) as PipelinePolicy,
    lockTable: required(e.lockTable),
    topicArn: required(e.topicArn),
    clients: {
      s3,
      sagemaker,
      ssm: new SSMClient({}),
      dynamodb: new DynamoDBClient({}),
      sfn: new SFNClient({}),
      sns: new SNSClient({}),
      cloudwatch: new CloudWatchClient({}),
    },
  };
}

type Input = Record<string, unknown>;
const RUN: Record<PipelineStep, (p: steps.PipelineContext, input: Input) => Promise<unknown>> = {
  lock: (p, i) => steps.lock(p, i as never),
  release: (p, i) => steps.release(p, i as never),
  prepare: (p) => steps.prepare(p),
  gate: (p, i) => steps.gateStep(p, i as never),
  publish: (p, i) => steps.publishStep(p, i as never),
  'await-approval': (p, i) => steps.awaitApproval(p, i as never),
  resume: (p, i) => steps.resume(p, i as unknown as ModelPackageStateChange),
  canary: (p, i) => steps.canary(p, i as never),
  check: (p, i) => steps.check(p, i as never),
  promote: (p, i) => steps.promoteStep(p, i as never),
  rollback: (p, i) => steps.rollbackStep(p, i as never),
  cleanup: (p, i) => steps.cleanup(p, i as never),
  notify: (p, i) => steps.notify(p, i as never),
};

/** Runs one step (or, for an EventBridge event without `step`, resumes a waiting execution). */
export async function runStep(p: steps.PipelineContext, event: Input & { step?: PipelineStep }) {
  const step: PipelineStep = event.step ?? 'resume';
  const run = RUN[step];
  if (!run) throw new Error(`unknown pipeline step '${String(step)}'`);
  return run(p, event);
}

let ctx: steps.PipelineContext | undefined;

/**
 * The retraining pipeline's Lambda: the state machine sends `{step, ...input}`; the registry's
 * approval events (EventBridge, no `step`) resume a waiting execution.
 */
export async function handler(event: Input & { step?: PipelineStep }) {
  ctx ??= pipelineFromEnv();
  const result = await runStep(ctx, event);
  console.log(JSON.stringify({ step: event.step ?? 'resume', result }));
  return result;
}
