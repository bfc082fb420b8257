import type {
  HyperParameterTrainingJobDefinition,
  CreateTrainingJobRequest,
  Tag,
} from '@aws-sdk/client-sagemaker';
import { TRAINER_ENVIRONMENT } from '../../../constructs/training/contract';
import { instanceShape } from '../../../constructs/training/instance-types';
import { UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { MetricDefinition } from './metric-definitions';
import type { TrainingPlatform } from './platform';
import { costAllocationTags } from '../../../constructs/monitoring/cost-allocation';
import { s3Join } from './s3';

/** Where the trainer image finds checkpoints; SageMaker syncs it with CheckpointConfig.S3Uri. */
export const CHECKPOINT_LOCAL_PATH = '/opt/ml/checkpoints';

/** The team's cost allocation tags, on every job: the team budget counts what they cost. */
export function tags(platform: TrainingPlatform): Tag[] {
  return Object.entries(costAllocationTags(platform)).map(([Key, Value]) => ({ Key, Value }));
}

/** `--instance-count`, else the team's default; a whole number. */
export function instanceCount(options: Options, platform: TrainingPlatform): number {
  const count = options.instanceCount ?? platform.instanceCount;
  if (!Number.isInteger(count)) {
    throw new UsageError(`--instance-count must be a whole number, got ${count}`);
  }
  return count;
}

/** One trainer process per GPU: the team's GPU count for its type, else the table's. */
export function processesPerInstance(platform: TrainingPlatform, instanceType: string): number {
  const gpus =
    instanceType === platform.instanceType
      ? platform.gpusPerInstance
      : instanceShape(instanceType)?.gpus;
  return Math.max(gpus ?? 1, 1);
}

/**
 * The parts of a SageMaker training job shared by `--mode sagemaker` and `tune`: the team's
 * role, image, GPU instance, managed spot + checkpoints, VPC, KMS and metric definitions.
 */
export function trainingJobDefinition(
  platform: TrainingPlatform,
  options: Options,
  channelUris: Record<string, string>,
  metrics: MetricDefinition[],
  checkpointName: string,
): Omit<HyperParameterTrainingJobDefinition, 'StaticHyperParameters'> & {
  EnableManagedSpotTraining: boolean;
} {
  const spot = platform.spot && !options.onDemand;
  const instanceType = options.instanceType ?? platform.instanceType;
  return {
    RoleArn: platform.roleArn,
    AlgorithmSpecification: {
      TrainingImage: platform.imageUri,
      // Files are read as they are opened, so each instance reads only its ranks' shards.
      TrainingInputMode: 'FastFile',
      MetricDefinitions: metrics,
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
    OutputDataConfig: { S3OutputPath: platform.outputS3Uri, KmsKeyId: platform.kmsKeyArn },
    ResourceConfig: {
      InstanceType: instanceType as never,
      InstanceCount: instanceCount(options, platform),
      VolumeSizeInGB: platform.volumeSizeGb,
      VolumeKmsKeyId: platform.kmsKeyArn,
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: platform.maxRuntimeSeconds,
      ...(spot
        ? { MaxWaitTimeInSeconds: Math.max(platform.maxWaitSeconds, platform.maxRuntimeSeconds) }
        : {}),
    },
    EnableManagedSpotTraining: spot,
    CheckpointConfig: {
      S3Uri: s3Join(platform.checkpointS3Uri, checkpointName) + '/',
      LocalPath: CHECKPOINT_LOCAL_PATH,
    },
    VpcConfig: { SecurityGroupIds: platform.securityGroupIds, Subnets: platform.subnetIds },
    // The trainer needs no network: SageMaker moves data and checkpoints in and out.
    EnableNetworkIsolation: true,
    EnableInterContainerTrafficEncryption: true,
    // BYO images get no SM_NUM_GPUS: the entry point starts this many processes per instance.
    Environment: {
      [TRAINER_ENVIRONMENT.processesPerNode]: String(processesPerInstance(platform, instanceType)),
    },
  };
}

export function createTrainingJobRequest(
  name: string,
  platform: TrainingPlatform,
  options: Options,
  channelUris: Record<string, string>,
  metrics: MetricDefinition[],
  hyperparameters: Record<string, string>,
): CreateTrainingJobRequest {
  return {
    TrainingJobName: name,
    ...trainingJobDefinition(platform, options, channelUris, metrics, name),
    HyperParameters: hyperparameters,
    Tags: tags(platform),
  };
}
