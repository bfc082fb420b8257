import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Duration } from 'aws-cdk-lib';
import { DataLake } from '../../constructs/data-lake';
import { testApp } from '../helpers/teams';
import {
  RetrainingPipeline,
  type RetrainingPipelineProps,
} from '../../constructs/lifecycle/retraining-pipeline';
import type { PipelinePolicy } from '../../training/launcher/pipeline/contract';

/** The lock table of fraud/dev's pipeline. */
export const LOCK_TABLE = 'mlp-fraud-dev-retraining-lock';

/** The lock table as the construct creates it (partition key `pk`), on moto. */
export async function createLockTable(dynamodb: DynamoDBClient): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: LOCK_TABLE,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** The policy of the tests: the config defaults of a dev stage, a 15-minute bake. */
export const POLICY: PipelinePolicy = {
  promotionMargin: 0.005,
  maxSegmentRegression: 0.02,
  minSegmentRows: 30,
  canaryPercent: 20,
  bakeMinutes: 15,
  lowTraffic: 'extend',
  maxBakeExtensions: 2,
  minCanaryRequests: 100,
  maxErrorRateIncrease: 0.01,
  maxLatencyIncrease: 0.2,
  maxLowConfidenceIncrease: 0.05,
  errorRateThreshold: 0.05,
  latencyP99Ms: 100,
};

/** A stack with one team's pipeline (and what it needs: data lake, key, topic, drift alarm), synthesized. */
export function pipelineStack(overrides: Partial<RetrainingPipelineProps> = {}, team = 'fraud') {
  // The project's feature flags (cdk.json), as every synth has them.
  const app = testApp();
  const stack = new Stack(app, `${team}-pipeline`, {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const dataLake = new DataLake(stack, 'DataLake', {});
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const topic = new sns.Topic(stack, 'Topic', { masterKey: key, enforceSSL: true });
  const driftAlarm = new cloudwatch.Alarm(stack, 'DataDrift', {
    metric: new cloudwatch.Metric({
      namespace: 'MlPlatform/Serving',
      metricName: 'MaxFeatureDriftPsi',
    }),
    threshold: 0.25,
    evaluationPeriods: 1,
  });
  const trainingRole = new iam.Role(stack, 'TrainingRole', {
    assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
  });
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    team,
    stage: 'dev',
    resourcePrefix: `mlp-${team}-dev`,
    dataLake,
    modelName: 'churn',
    modelPackageGroupName: `mlp-${team}-dev-churn`,
    approval: 'auto',
    trainingParameterPath: `/ml-platform/${team}/dev/training`,
    trainingRole,
    trainingJobNamePrefix: `${team}-dev-`,
    topic,
    encryptionKey: key,
    policy: POLICY,
    approvalTimeout: Duration.hours(72),
    maxTrainingTime: Duration.hours(48),
    logGroupPrefix: `/ml-platform/${team}/dev`,
    driftAlarm,
    ...overrides,
  });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

type Json = Record<string, unknown>;

/**
 * The state machine's definition from a synthesized template: DefinitionString's Fn::Join,
 * with each token replaced by a placeholder ARN (`arn:aws:lambda:...:function:<logical id>`).
 */
export function definitionOf(template: Template): Json {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.values(machines) as { Properties: { DefinitionString: unknown } }[];
  const resolve = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const p = part as Json;
    if (p['Fn::GetAtt'])
      return `arn:aws:lambda:eu-west-1:123456789012:function:${(p['Fn::GetAtt'] as string[])[0]}`;
    if (p.Ref === 'AWS::Partition') return 'aws';
    if (p.Ref === 'AWS::Region') return 'eu-west-1';
    if (p.Ref === 'AWS::AccountId') return '123456789012';
    if (p.Ref) return `placeholder-${String(p.Ref)}`;
    throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
  };
  const def = machine.Properties.DefinitionString as { 'Fn::Join'?: [string, unknown[]] } | string;
  const text =
    typeof def === 'string' ? def : def['Fn::Join']![1].map(resolve).join(def['Fn::Join']![0]);
  return JSON.parse(text) as Json;
}
