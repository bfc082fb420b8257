import type { NodeGroupConfig, TeamConfig } from './defaults';
import { ConfigError, type ConfigProblem } from './errors';

/**
 * One shared platform (network, and later the EKS cluster) per account and region, derived
 * from the team environments that live there. Teams that share an account and region must
 * agree on its availability zones and VPC CIDR; the platform takes the most available NAT
 * setting any of its teams asks for (a prod team makes the shared network highly available).
 *
 * The EKS cluster is shared the same way: teams must list the same public endpoint CIDRs (a
 * dev file cannot open the API of a cluster that prod runs on), admin roles add up, and the
 * node groups come from the most protective team (prod before staging before dev, then file
 * order) that sets them.
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
  readonly cluster: {
    /** Empty: the Kubernetes API endpoint is private. */
    readonly endpointPublicCidrs: readonly string[];
    /** Union of every team's admin roles, sorted. */
    readonly adminRoleArns: readonly string[];
    readonly nodes: NodeGroupConfig;
    readonly gpuNodes?: NodeGroupConfig;
  };
  readonly teams: readonly TeamConfig[];
}

const STAGE_ORDER = { prod: 0, staging: 1, dev: 2 } as const;

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
      if (
        other.cluster.endpointPublicCidrs.join(',') !== first.cluster.endpointPublicCidrs.join(',')
      ) {
        problems.push({
          file: other.sourceFile,
          path: 'cluster.endpointPublicCidrs',
          message: `must match ${first.sourceFile} ([${first.cluster.endpointPublicCidrs.join(', ')}]): teams in account ${first.account} ${first.region} share one cluster`,
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
    const cluster = clusterOf(members);
    platforms.push({
      account: first.account,
      region: first.region,
      availabilityZones: first.availabilityZones,
      cidr: first.network.cidr,
      natGateways: Math.max(...members.map((m) => m.network.natGateways)),
      terminationProtection: members.some((m) => m.terminationProtection),
      logRetentionDays: Math.max(...members.map((m) => m.monitoring.logRetentionDays)),
      cluster,
      teams: members,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return platforms;
}

function clusterOf(members: readonly TeamConfig[]): PlatformConfig['cluster'] {
  const byProtection = [...members].sort((a, b) => STAGE_ORDER[a.stage] - STAGE_ORDER[b.stage]);
  return {
    endpointPublicCidrs: members[0].cluster.endpointPublicCidrs,
    adminRoleArns: [...new Set(members.flatMap((m) => m.cluster.adminRoleArns))].sort(),
    nodes: byProtection[0].cluster.nodes,
    gpuNodes: byProtection.find((m) => m.cluster.gpuNodes)?.cluster.gpuNodes,
  };
}
