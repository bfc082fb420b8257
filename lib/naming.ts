import type { PlatformConfig, TeamConfig } from './config';

/**
 * Every derived name in one place. Names are part of the deployed contract (renaming a stack
 * or a parameter is a breaking change), so they are built here and nowhere else.
 */

/** Short product prefix for stacks and resources. */
export const PREFIX = 'mlp';

export function teamStackName(t: Pick<TeamConfig, 'team' | 'stage'>): string {
  return `${PREFIX}-${t.team}-${t.stage}`;
}

export function platformStackName(p: Pick<PlatformConfig, 'account' | 'region'>): string {
  return `${PREFIX}-platform-${p.account}-${p.region}`;
}

/** Prefix for a team environment's named resources (log groups, roles, topics, ...). */
export function teamResourcePrefix(t: Pick<TeamConfig, 'team' | 'stage'>): string {
  return `${PREFIX}-${t.team}-${t.stage}`;
}

/** SSM parameter path under which a team environment publishes what tools need to find. */
export function teamParameterPath(t: Pick<TeamConfig, 'team' | 'stage'>): string {
  return `/ml-platform/${t.team}/${t.stage}`;
}

/** Tags on every resource of a team environment (cost allocation and ownership). */
export function teamTags(t: TeamConfig): Record<string, string> {
  return {
    'ml-platform:team': t.team,
    'ml-platform:stage': t.stage,
    'ml-platform:cost-center': t.costCenter,
    'ml-platform:managed-by': 'cdk',
  };
}

export function platformTags(): Record<string, string> {
  return { 'ml-platform:team': 'platform', 'ml-platform:managed-by': 'cdk' };
}

/** The shared EKS cluster of an account and region (cluster names are per region). */
export function clusterName(): string {
  return `${PREFIX}-platform`;
}

/** Kubernetes namespace of a team environment on the shared cluster (a DNS label). */
export function teamNamespace(t: Pick<TeamConfig, 'team' | 'stage'>): string {
  return `${t.team}-${t.stage}`;
}
