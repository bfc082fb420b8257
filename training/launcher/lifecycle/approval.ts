import type { Lifecycle } from './context';
import { clearCandidate, promote } from './promote';
import { PACKAGE_PROPERTIES, describePackage } from './registry';
import { readAlias } from './store';

/** The part of "SageMaker Model Package State Change" the handler reads. */
export interface ModelPackageStateChange {
  readonly 'detail-type'?: string;
  readonly detail: { readonly ModelPackageArn?: string; readonly ModelPackageGroupName?: string };
}

export interface ApprovalOutcome {
  readonly action: 'promoted' | 'already-production' | 'candidate-cleared' | 'ignored';
  readonly version?: string;
  readonly why: string;
}

/**
 * Registry approval drives rollout. The package is described again (events can arrive late or
 * out of order: the current state decides), then:
 *
 * - Approved by a person: the version is promoted to production through `promote` (the same
 *   code as the CLI). Production already on it (the approval came from `promote` itself) is a
 *   no-op. A package of an automatic-approval stage (Approved at publish, no one's decision):
 *   nothing; its versions move with `npm run model -- promote`.
 * - Rejected while it is the candidate: the candidate is cleared.
 * - Anything else (pending, a rejected non-candidate, another group's package): nothing.
 */
export async function handleModelPackageStateChange(
  ctx: Lifecycle,
  event: ModelPackageStateChange,
): Promise<ApprovalOutcome> {
  const arn = event.detail.ModelPackageArn;
  if (!arn) return { action: 'ignored', why: 'the event names no model package' };
  if (event.detail.ModelPackageGroupName !== ctx.registry.group)
    return {
      action: 'ignored',
      why: `package of group ${String(event.detail.ModelPackageGroupName)}`,
    };
  const pkg = await describePackage(ctx.registry, arn);
  const version = pkg.version;
  if (!version) return { action: 'ignored', why: `${arn} was not registered by npm run model` };
  if (pkg.status === 'Approved') {
    if (pkg.properties[PACKAGE_PROPERTIES.approval] === 'auto')
      return { action: 'ignored', version, why: 'approved automatically at publish' };
    if (pkg.properties[PACKAGE_PROPERTIES.pipelineExecution])
      return {
        action: 'ignored',
        version,
        why: `the retraining pipeline execution that registered it rolls it out (${pkg.properties[PACKAGE_PROPERTIES.pipelineExecution]})`,
      };
    const by = pkg.modifiedBy ? ` by ${pkg.modifiedBy}` : '';
    const result = await promote(ctx, version, {
      reason: `approved in the model registry${by}${pkg.approvalDescription ? `: ${pkg.approvalDescription}` : ''}`,
      approve: false,
    });
    return result.changed
      ? { action: 'promoted', version, why: `production was ${result.previous ?? 'unset'}` }
      : { action: 'already-production', version, why: 'production already names it' };
  }
  if (pkg.status === 'Rejected') {
    const candidate = await readAlias(ctx.store, 'candidate');
    if (candidate.alias?.version === version && candidate.alias.traffic_percent) {
      await clearCandidate(
        ctx,
        `package rejected in the model registry${pkg.modifiedBy ? ` by ${pkg.modifiedBy}` : ''}`,
        candidate,
      );
      return {
        action: 'candidate-cleared',
        version,
        why: 'the rejected version was the candidate',
      };
    }
    return {
      action: 'ignored',
      version,
      why: 'rejected, but not the candidate (rollback moves production)',
    };
  }
  return { action: 'ignored', version, why: `approval status ${pkg.status}` };
}
