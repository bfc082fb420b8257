import {
  COST_ALLOCATION_TAG_KEYS,
  costAllocationTags,
} from '../constructs/monitoring/cost-allocation';
import type { PlatformConfig, TeamConfig } from './config';

/**
 * Every derived name in one place. Names are part of the deployed contract (renaming a stack
 * or a parameter is a breaking change), so they are built here and nowhere else.
 */

/** What names a team environment (a resolved config, or a launcher's flags). */
export interface TeamStage {
  readonly team: string;
  readonly stage: string;
}

/** Short product prefix for stacks and resources. */
export const PREFIX = 'mlp';

/** The team stack carries the environment's resource prefix as its name. */
export function teamStackName(t: TeamStage): string {
  return teamResourcePrefix(t);
}

export function platformStackName(p: Pick<PlatformConfig, 'account' | 'region'>): string {
  return `${PREFIX}-platform-${p.account}-${p.region}`;
}

/** Prefix for a team environment's named resources (log groups, roles, topics, ...). */
export function teamResourcePrefix(t: TeamStage): string {
  return `${PREFIX}-${t.team}-${t.stage}`;
}

/** Root of every SSM parameter the platform publishes. */
export const PARAMETER_ROOT = '/ml-platform';

/** SSM parameter path under which a team environment publishes what tools need to find. */
export function teamParameterPath(t: TeamStage): string {
  return `${PARAMETER_ROOT}/${t.team}/${t.stage}`;
}

/** The training contract's parameters (docs/training-contract.md). */
export function trainingParameterPath(t: TeamStage): string {
  return `${teamParameterPath(t)}/training`;
}

/**
 * Every training and tuning job of a team environment starts with this, so alarms and
 * EventBridge rules can select the team's jobs by name.
 */
export function trainingJobNamePrefix(t: TeamStage): string {
  return `${t.team}-${t.stage}-`;
}

/** Tags on every resource of a team environment (cost allocation and ownership). */
export function teamTags(t: TeamConfig): Record<string, string> {
  return {
    ...costAllocationTags(t),
    'ml-platform:cost-center': t.costCenter,
    'ml-platform:managed-by': 'cdk',
  };
}

export function platformTags(): Record<string, string> {
  return { [COST_ALLOCATION_TAG_KEYS.team]: 'platform', 'ml-platform:managed-by': 'cdk' };
}

/** The shared EKS cluster of an account and region (cluster names are per region). */
export function clusterName(): string {
  return `${PREFIX}-platform`;
}

/** Kubernetes namespace of a team environment on the shared cluster (a DNS label). */
export function teamNamespace(t: TeamStage): string {
  return `${t.team}-${t.stage}`;
}
