import type { App } from 'aws-cdk-lib';
import { derivePlatforms, type TeamConfig } from './config';
import { addSecurityChecks } from './nag';
import { PlatformStack } from './platform-stack';
import { TeamStack } from './team-stack';

export interface MlPlatformApp {
  readonly platforms: PlatformStack[];
  readonly teams: TeamStack[];
}

/** Builds every stack for the given team environments and adds the security checks. */
export function buildPlatformApp(app: App, teams: readonly TeamConfig[]): MlPlatformApp {
  const platforms: PlatformStack[] = [];
  const teamStacks: TeamStack[] = [];
  for (const config of derivePlatforms(teams)) {
    const platform = new PlatformStack(app, { config });
    platforms.push(platform);
    for (const team of config.teams) {
      teamStacks.push(new TeamStack(app, { config: team, platform }));
    }
  }
  addSecurityChecks(app);
  return { platforms, teams: teamStacks };
}
