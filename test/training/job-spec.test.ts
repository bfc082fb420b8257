import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import {
  createTrainingJobRequest,
  trainingJobDefinition,
  type JobSpec,
} from '../../training/launcher/lib/job-spec';

/** The modules `file` loads at run time (type-only imports are erased), followed through relative imports. */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  const external = new Set<string>();
  if (seen.has(file)) return external;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
    if (match[1]) continue;
    const target = match[2];
    if (target.startsWith('.')) {
      for (const found of runtimeImports(path.resolve(path.dirname(file), `${target}.ts`), seen))
        external.add(found);
    } else external.add(target);
  }
  return external;
}

const SPEC: JobSpec = {
  team: 'fraud',
  stage: 'prod',
  roleArn: 'arn:aws:iam::123456789012:role/train',
  imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:1',
  instanceType: 'ml.g5.xlarge',
  volumeSizeGb: 50,
  outputS3Uri: 's3://models/training/',
  checkpointS3Uri: 's3://models/checkpoints/',
  kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k',
  subnetIds: ['subnet-a', 'subnet-b'],
  securityGroupIds: ['sg-1'],
  maxRuntimeSeconds: 3600,
  maxWaitSeconds: 1800,
  spot: true,
  metricDefinitions: [{ Name: 'validation:loss', Regex: 'x' }],
};

describe('job spec (the one training-job builder)', () => {
  test('loads no SDK, no aws-cdk-lib and no node module at run time, so a construct can call it', () => {
    const file = path.join(__dirname, '../../training/launcher/lib/job-spec.ts');
    // zod alone, for the objective checks of the training contract module it names env vars from
    expect([...runtimeImports(file)]).toEqual(['zod']);
  });

  test('builds the CreateTrainingJob request of a run from the spec alone', () => {
    // WHEN
    const request = createTrainingJobRequest(SPEC, {
      name: 'fraud-prod-train-1',
      channelUris: { train: 's3://data/fraud-prod-train-1/train/' },
      hyperparameters: { epochs: '3' },
    });
    // THEN
    expect(request).toEqual({
      TrainingJobName: 'fraud-prod-train-1',
      RoleArn: SPEC.roleArn,
      AlgorithmSpecification: {
        TrainingImage: SPEC.imageUri,
        TrainingInputMode: 'File',
        MetricDefinitions: [{ Name: 'validation:loss', Regex: 'x' }],
      },
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          DataSource: {
            S3DataSource: {
              S3DataType: 'S3Prefix',
              S3Uri: 's3://data/fraud-prod-train-1/train/',
              S3DataDistributionType: 'FullyReplicated',
            },
          },
        },
      ],
      OutputDataConfig: { S3OutputPath: 's3://models/training/', KmsKeyId: SPEC.kmsKeyArn },
      ResourceConfig: {
        InstanceType: 'ml.g5.xlarge',
        InstanceCount: 1,
        VolumeSizeInGB: 50,
        VolumeKmsKeyId: SPEC.kmsKeyArn,
      },
      // The wait limit is never below the runtime limit.
      StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 3600 },
      EnableManagedSpotTraining: true,
      CheckpointConfig: {
        S3Uri: 's3://models/checkpoints/fraud-prod-train-1/',
        LocalPath: '/opt/ml/checkpoints',
      },
      VpcConfig: { SecurityGroupIds: ['sg-1'], Subnets: ['subnet-a', 'subnet-b'] },
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      HyperParameters: { epochs: '3' },
      Tags: [
        { Key: 'ml-platform:team', Value: 'fraud' },
        { Key: 'ml-platform:stage', Value: 'prod' },
      ],
    });
  });

  test('on demand has no wait limit, and the instance count is the spec’s', () => {
    const definition = trainingJobDefinition({ ...SPEC, spot: false, instanceCount: 4 }, {}, 'c');
    expect(definition.EnableManagedSpotTraining).toBe(false);
    expect(definition.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 3600 });
    expect(definition.ResourceConfig?.InstanceCount).toBe(4);
  });

  test('with a tracking server: the MLflow variables, and network access instead of isolation', () => {
    const arn = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlp-fraud-prod';
    const request = createTrainingJobRequest(
      { ...SPEC, trackingServerArn: arn },
      { name: 'fraud-prod-train-1', channelUris: {}, hyperparameters: {} },
    );
    expect(request.EnableNetworkIsolation).toBe(false);
    expect(request.Environment).toEqual({
      MLFLOW_TRACKING_URI: arn,
      MLFLOW_EXPERIMENT_NAME: 'fraud-prod',
      MLFLOW_RUN_NAME: 'fraud-prod-train-1',
    });
    // A tuning job's definition names no run: each trial is its own training job.
    expect(trainingJobDefinition({ ...SPEC, trackingServerArn: arn }, {}, 't').Environment).toEqual(
      { MLFLOW_TRACKING_URI: arn, MLFLOW_EXPERIMENT_NAME: 'fraud-prod' },
    );
  });

  test('keeps CDK tokens for the contract values intact', () => {
    // GIVEN contract values that only resolve at deploy time
    const stack = new Stack(new App(), 'S');
    const bucket = Token.asString({ Ref: 'Checkpoints' });
    const role = Token.asString({ 'Fn::GetAtt': ['Role', 'Arn'] });
    // WHEN
    const definition = trainingJobDefinition(
      { ...SPEC, roleArn: role, checkpointS3Uri: bucket },
      {},
      'run',
    );
    // THEN
    expect(stack.resolve(definition.RoleArn)).toEqual({ 'Fn::GetAtt': ['Role', 'Arn'] });
    expect(stack.resolve(definition.CheckpointConfig?.S3Uri)).toEqual({
      'Fn::Join': ['', [{ Ref: 'Checkpoints' }, '/run/']],
    });
  });
});
