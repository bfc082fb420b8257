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
