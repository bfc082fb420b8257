import type { TeamConfig } from './defaults';
import { ConfigError, type ConfigProblem } from './errors';

/**
 * One shared platform (network, and later the EKS cluster) per account and region, derived
 * from the team environments that live there. Teams that share an account and region must
 * agree on its availability zones and VPC CIDR; the platform takes the most available NAT
 * setting any of its teams asks for (a prod team makes the shared network highly available).
 */
export interface PlatformConfig {
  readonly account: string;
  readonly region: string;
  readonly availabilityZones: readonly string[];
  readonly cidr: string;
  readonly natGateways: number;
  /** The most protective stage among its teams decides retention and termination protection. */
  readonly terminationProtection: boolean;
  readonly logRetentionDays: number;
  readonly teams: readonly TeamConfig[];
}

export function derivePlatforms(teams: readonly TeamConfig[]): PlatformConfig[] {
  const groups = new Map<string, TeamConfig[]>();
  for (const t of teams) {
    const key = `${t.account}/${t.region}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const problems: ConfigProblem[] = [];
  const platforms: PlatformConfig[] = [];
  for (const members of groups.values()) {
    const [first] = members;
    for (const other of members.slice(1)) {
      if (other.availabilityZones.join(',') !== first.availabilityZones.join(',')) {
        problems.push({
          file: other.sourceFile,
          path: 'availabilityZones',
          message: `must match ${first.sourceFile} (${first.availabilityZones.join(', ')}): teams in account ${first.account} ${first.region} share one network`,
        });
      }
      if (other.network.cidr !== first.network.cidr) {
        problems.push({
          file: other.sourceFile,
          path: 'network.cidr',
          message: `must match ${first.sourceFile} (${first.network.cidr}): teams in account ${first.account} ${first.region} share one VPC`,
        });
      }
    }
    platforms.push({
      account: first.account,
      region: first.region,
      availabilityZones: first.availabilityZones,
      cidr: first.network.cidr,
      natGateways: Math.max(...members.map((m) => m.network.natGateways)),
      terminationProtection: members.some((m) => m.terminationProtection),
      logRetentionDays: Math.max(...members.map((m) => m.monitoring.logRetentionDays)),
      teams: members,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return platforms;
}
