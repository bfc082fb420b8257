import type {
  CreateTrainingJobRequest,
  HyperParameterTrainingJobDefinition,
  Tag,
} from '@aws-sdk/client-sagemaker';
import type { MetricDefinition } from './metric-definitions';
import { costAllocationTags } from '../../../constructs/monitoring/cost-allocation';
import { TRACKING_ENV } from '../../../constructs/training/contract';
import { experimentName, type TeamStage } from '../../../lib/naming';
import { s3Join } from './s3-uri';

/**
 * The one builder of a SageMaker training job, shared by the launcher (`--mode sagemaker`,
 * `tune`) and the retraining pipeline's Train step. Pure: no SDK client, no aws-cdk-lib, no
 * files; only type imports, so a CDK construct can call it with tokens for the values.
 */

/** Where the trainer image finds checkpoints; SageMaker syncs it with CheckpointConfig.S3Uri. */
export const CHECKPOINT_LOCAL_PATH = '/opt/ml/checkpoints';

/** What a training job is built from: the training contract's values and the run's resolved choices. */
export interface JobSpec extends TeamStage {
  readonly roleArn: string;
  readonly imageUri: string;
  readonly instanceType: string;
  /** @default 1 */
  readonly instanceCount?: number;
  readonly volumeSizeGb: number;
  readonly outputS3Uri: string;
  readonly checkpointS3Uri: string;
  readonly kmsKeyArn: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly maxRuntimeSeconds: number;
  readonly maxWaitSeconds: number;
  /** Managed spot capacity (with checkpoints); the wait limit applies only then. */
  readonly spot: boolean;
  readonly metricDefinitions: readonly MetricDefinition[];
  /**
   * The team's MLflow tracking server (`mlflow/tracking-server-arn`): the trainer logs its runs
   * there, so the container gets network access (through the VPC) instead of isolation.
   * @default - no tracking: the container runs network-isolated
   */
  readonly trackingServerArn?: string;
}

/** One run of a job spec: its name, its data channels and the trainer's hyperparameters. */
export interface JobRun {
  readonly name: string;
  /** Channel name to S3 prefix URI (train, validation, test). */
  readonly channelUris: Readonly<Record<string, string>>;
  readonly hyperparameters: Readonly<Record<string, string>>;
}

export type TrainingJobDefinition = Omit<
  HyperParameterTrainingJobDefinition,
  'StaticHyperParameters'
> & { EnableManagedSpotTraining: boolean };

/** The team's cost allocation tags, on every job: the team budget counts what they cost. */
export function jobTags(t: TeamStage): Tag[] {
  return Object.entries(costAllocationTags(t)).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * The parts of a training job shared by a single job and a tuning job's definition: the team's
 * role, image, GPU instance, managed spot + checkpoints (under `checkpointName`), VPC, KMS and
 * metric definitions.
 */
export function trainingJobDefinition(
  spec: JobSpec,
  channelUris: Readonly<Record<string, string>>,
  checkpointName: string,
): TrainingJobDefinition {
  return {
    RoleArn: spec.roleArn,
    AlgorithmSpecification: {
      TrainingImage: spec.imageUri,
      TrainingInputMode: 'File',
      MetricDefinitions: [...spec.metricDefinitions],
    },
    InputDataConfig: Object.entries(channelUris).map(([channel, uri]) => ({
      ChannelName: channel,
      ContentType: 'text/csv',
      DataSource: {
        S3DataSource: {
          S3DataType: 'S3Prefix',
          S3Uri: uri,
          S3DataDistributionType: 'FullyReplicated',
        },
      },
    })),
    OutputDataConfig: { S3OutputPath: spec.outputS3Uri, KmsKeyId: spec.kmsKeyArn },
    ResourceConfig: {
      InstanceType: spec.instanceType as never,
      InstanceCount: spec.instanceCount ?? 1,
      VolumeSizeInGB: spec.volumeSizeGb,
      VolumeKmsKeyId: spec.kmsKeyArn,
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: spec.maxRuntimeSeconds,
      ...(spec.spot
        ? { MaxWaitTimeInSeconds: Math.max(spec.maxWaitSeconds, spec.maxRuntimeSeconds) }
        : {}),
    },
    EnableManagedSpotTraining: spec.spot,
    CheckpointConfig: {
      S3Uri: s3Join(spec.checkpointS3Uri, checkpointName) + '/',
      LocalPath: CHECKPOINT_LOCAL_PATH,
    },
    VpcConfig: { SecurityGroupIds: [...spec.securityGroupIds], Subnets: [...spec.subnetIds] },
    // SageMaker moves data and checkpoints in and out: only tracking needs the network.
    EnableNetworkIsolation: spec.trackingServerArn === undefined,
    EnableInterContainerTrafficEncryption: true,
    ...(spec.trackingServerArn !== undefined
      ? { Environment: trackingEnvironment(spec, spec.trackingServerArn) }
      : {}),
  };
}

/** The trainer's tracking variables (TRACKING_ENV); a run name only for a single job. */
export function trackingEnvironment(
  spec: TeamStage,
  trackingServerArn: string,
  runName?: string,
): Record<string, string> {
  return {
    [TRACKING_ENV.trackingUri]: trackingServerArn,
    [TRACKING_ENV.experimentName]: experimentName(spec),
    ...(runName !== undefined ? { [TRACKING_ENV.runName]: runName } : {}),
  };
}

/** The CreateTrainingJob request of one run; checkpoints go under the run's name. */
export function createTrainingJobRequest(spec: JobSpec, run: JobRun): CreateTrainingJobRequest {
  const definition = trainingJobDefinition(spec, run.channelUris, run.name);
  return {
    TrainingJobName: run.name,
    ...definition,
    ...(spec.trackingServerArn !== undefined
      ? { Environment: trackingEnvironment(spec, spec.trackingServerArn, run.name) }
      : {}),
    HyperParameters: { ...run.hyperparameters },
    Tags: jobTags(spec),
  };
}
