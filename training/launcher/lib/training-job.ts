import { instanceShape } from '../../../constructs/training/instance-types';
import { UsageError } from '../cli/errors';
import type { Options } from '../cli/options';
import type { JobSpec } from './job-spec';
import { metricDefinitions } from './metric-definitions';
import type { TrainingPlatform } from './platform';

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
 * The launcher's job spec: the team's training contract (SSM) with the run's flags applied
 * (`--instance-type`, `--on-demand`) and the trainer's metric definitions.
 */
export function launcherJobSpec(platform: TrainingPlatform, options: Options): JobSpec {
  const instanceType = options.instanceType ?? platform.instanceType;
  return {
    team: platform.team,
    stage: platform.stage,
    roleArn: platform.roleArn,
    imageUri: platform.imageUri,
    instanceType,
    instanceCount: instanceCount(options, platform),
    processesPerInstance: processesPerInstance(platform, instanceType),
    volumeSizeGb: platform.volumeSizeGb,
    outputS3Uri: platform.outputS3Uri,
    checkpointS3Uri: platform.checkpointS3Uri,
    kmsKeyArn: platform.kmsKeyArn,
    subnetIds: platform.subnetIds,
    securityGroupIds: platform.securityGroupIds,
    maxRuntimeSeconds: platform.maxRuntimeSeconds,
    maxWaitSeconds: platform.maxWaitSeconds,
    spot: platform.spot && !options.onDemand,
    metricDefinitions: metricDefinitions(platform),
    ...(platform.trackingServerArn ? { trackingServerArn: platform.trackingServerArn } : {}),
  };
}
