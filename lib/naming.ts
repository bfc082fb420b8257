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

/**
 * The data lake's parameters: `<zone>-bucket` per zone and `kms-key-arn`, read by the
 * launcher's `npm run model` and written by the team stack.
 */
export function dataLakeParameter(t: TeamStage, name: `${string}-bucket` | 'kms-key-arn'): string {
  return `${teamParameterPath(t)}/data-lake/${name}`;
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

/** The MLflow experiment a team environment's training runs are logged to. */
export function experimentName(t: TeamStage): string {
  return `${t.team}-${t.stage}`;
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

/**
 * The role GitHub Actions assumes through OIDC to deploy (DeliveryStack); the deploy workflow
 * names it in every account.
 */
export const DEPLOY_ROLE_NAME = `${PREFIX}-github-deploy`;

/** One DeliveryStack per account (IAM is global; it deploys in the account's first region). */
export function deliveryStackName(account: string): string {
  return `${PREFIX}-delivery-${account}`;
}
