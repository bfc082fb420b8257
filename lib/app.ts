import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { derivePlatforms, type DeliveryConfig, type TeamConfig } from './config';
import { DeliveryStack } from './delivery-stack';
import { addSecurityChecks } from './nag';
import { PlatformStack } from './platform-stack';
import { TeamStack } from './team-stack';

export interface MlPlatformApp {
  readonly platforms: PlatformStack[];
  readonly teams: TeamStack[];
  readonly delivery: DeliveryStack[];
}

export interface BuildOptions {
  /**
   * Folder with the inference service's Dockerfile.
   * @default - `serving/` of this repository
   */
  readonly servingImageDirectory?: string;
  /**
   * Folder with the trainer's Dockerfile.
   * @default - `training/reference/` of this repository
   */
  readonly trainerImageDirectory?: string;
  /**
   * GitHub delivery (config/delivery.yaml): a DeliveryStack per account of the teams.
   * @default - no DeliveryStack
   */
  readonly delivery?: DeliveryConfig;
}

/** Builds every stack for the given team environments and adds the security checks. */
export function buildPlatformApp(
  app: App,
  teams: readonly TeamConfig[],
  options: BuildOptions = {},
): MlPlatformApp {
  const servingImageDirectory =
    options.servingImageDirectory ?? path.join(__dirname, '..', 'serving');
  const trainerImageDirectory =
    options.trainerImageDirectory ?? path.join(__dirname, '..', 'training', 'reference');
  const platforms: PlatformStack[] = [];
  const teamStacks: TeamStack[] = [];
  for (const config of derivePlatforms(teams)) {
    const platform = new PlatformStack(app, { config });
    platforms.push(platform);
    for (const team of config.teams) {
      teamStacks.push(
        new TeamStack(app, {
          config: team,
          platform,
          servingImageDirectory,
          trainerImageDirectory,
        }),
      );
    }
  }
  const delivery: DeliveryStack[] = [];
  if (options.delivery) {
    for (const account of [...new Set(teams.map((t) => t.account))].sort()) {
      const config = options.delivery;
      delivery.push(
        new DeliveryStack(app, {
          config,
          account,
          teams: teams.filter((t) => t.account === account),
        }),
      );
    }
  }
  addSecurityChecks(app);
  return { platforms, teams: teamStacks, delivery };
}
