/**
 * The cost allocation tags of a team environment: the contract between what carries them (every
 * resource of the team stack, the instances of its Batch compute environment, the ALB of its
 * ingress, the training and tuning jobs the launcher starts) and the team's budget, which
 * filters on them. Both keys must be activated as cost allocation tags in the billing console.
 * Imports nothing from aws-cdk-lib: the launcher uses it too.
 */
export const COST_ALLOCATION_TAG_KEYS = {
  team: 'ml-platform:team',
  stage: 'ml-platform:stage',
} as const;

/** `{ 'ml-platform:team': team, 'ml-platform:stage': stage }`. */
export function costAllocationTags(t: {
  readonly team: string;
  readonly stage: string;
}): Record<string, string> {
  return { [COST_ALLOCATION_TAG_KEYS.team]: t.team, [COST_ALLOCATION_TAG_KEYS.stage]: t.stage };
}
