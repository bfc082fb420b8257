/**
 * The approval Lambda's environment: set by its construct (constructs/lifecycle), read by its
 * handler (./approval-handler.ts). Imports nothing.
 */
export const APPROVAL_HANDLER_ENV = {
  bucket: 'MODEL_STORE_BUCKET',
  modelName: 'MODEL_NAME',
  kmsKeyArn: 'MODEL_STORE_KMS_KEY_ARN',
  group: 'MODEL_PACKAGE_GROUP',
} as const;

/** The EventBridge event the Lambda handles. */
export const MODEL_PACKAGE_STATE_CHANGE = {
  source: 'aws.sagemaker',
  detailType: 'SageMaker Model Package State Change',
} as const;

/**
 * The EventBridge pattern of a person's decision on a package of `groupName` (approved or
 * rejected): what both the approval Lambda's rule and the retraining pipeline's resume rule
 * listen to.
 */
export function modelPackageDecisionPattern(groupName: string) {
  return {
    source: [MODEL_PACKAGE_STATE_CHANGE.source],
    detailType: [MODEL_PACKAGE_STATE_CHANGE.detailType],
    detail: {
      ModelPackageGroupName: [groupName],
      ModelApprovalStatus: ['Approved', 'Rejected'],
    },
  };
}
