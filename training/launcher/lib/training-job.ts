import type {
  HyperParameterTrainingJobDefinition,
  CreateTrainingJobRequest,
  Tag,
} from '@aws-sdk/client-sagemaker';
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
  return {
    RoleArn: platform.roleArn,
    AlgorithmSpecification: {
      TrainingImage: platform.imageUri,
      TrainingInputMode: 'File',
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
      InstanceType: (options.instanceType ?? platform.instanceType) as never,
      InstanceCount: 1,
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
