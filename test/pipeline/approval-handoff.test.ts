/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { UpdateModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { handleModelPackageStateChange } from '../../training/launcher/lifecycle/approval';
import { publish } from '../../training/launcher/lifecycle/publish';
import { readAlias } from '../../training/launcher/lifecycle/store';
import { bundle, GROUP, lifecycleOn, lifecycleSuite } from '../lifecycle/fixtures';

describe('a package the retraining pipeline registered', () => {
  const suite = lifecycleSuite('manual');

  test('approving it leaves the rollout to the pipeline execution: the approval Lambda promotes nothing', async () => {
    // GIVEN a production version, and a candidate the pipeline published (pending approval)
    const ctx = lifecycleOn(suite.moto);
    const auto = { ...ctx, registry: { ...ctx.registry, approval: 'auto' as const } };
    await publish(auto, bundle('v1'));
    const execution =
      'arn:aws:states:eu-west-1:123456789012:execution:mlp-fraud-dev-retraining:run-1';
    const published = await publish(ctx, bundle('v2'), { pipelineExecutionArn: execution });
    expect(published.package.status).toBe('PendingManualApproval');
    expect(published.package.properties['ml-platform:pipeline-execution']).toBe(execution);
    // WHEN a person approves it in the registry
    await ctx.registry.sagemaker.send(
      new UpdateModelPackageCommand({
        ModelPackageArn: published.package.arn,
        ModelApprovalStatus: 'Approved',
        CustomerMetadataProperties: { ...published.package.properties },
      }),
    );
    const outcome = await handleModelPackageStateChange(ctx, {
      detail: { ModelPackageArn: published.package.arn, ModelPackageGroupName: GROUP },
    });
    // THEN the approval Lambda leaves it alone (the waiting execution canaries it first)
    expect(outcome).toEqual({
      action: 'ignored',
      version: 'v2',
      why: `the retraining pipeline execution that registered it rolls it out (${execution})`,
    });
    expect((await readAlias(ctx.store, 'production')).alias?.version).toBe('v1');
  });
});
