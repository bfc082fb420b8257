import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { derivePlatforms, type TeamConfig } from './config';
import { addSecurityChecks } from './nag';
import { PlatformStack } from './platform-stack';
import { TeamStack } from './team-stack';

export interface MlPlatformApp {
  readonly platforms: PlatformStack[];
  readonly teams: TeamStack[];
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
  addSecurityChecks(app);
  return { platforms, teams: teamStacks };
}
