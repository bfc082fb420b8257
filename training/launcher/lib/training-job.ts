import type { Options } from '../cli/options';
import type { JobSpec } from './job-spec';
import { metricDefinitions } from './metric-definitions';
import type { TrainingPlatform } from './platform';

/**
 * The launcher's job spec: the team's training contract (SSM) with the run's flags applied
 * (`--instance-type`, `--on-demand`) and the trainer's metric definitions.
 */
export function launcherJobSpec(platform: TrainingPlatform, options: Options): JobSpec {
  return {
    team: platform.team,
    stage: platform.stage,
    roleArn: platform.roleArn,
    imageUri: platform.imageUri,
    instanceType: options.instanceType ?? platform.instanceType,
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
