import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { APPROVAL_HANDLER_ENV } from './approval-contract';
import { handleModelPackageStateChange, type ModelPackageStateChange } from './approval';
import type { Lifecycle } from './context';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Built once per Lambda instance from the environment its construct sets. */
function lifecycleFromEnv(): Lifecycle {
  const e = APPROVAL_HANDLER_ENV;
  return {
    store: {
      s3: new S3Client({}),
      bucket: required(e.bucket),
      modelName: required(e.modelName),
      kmsKeyArn: required(e.kmsKeyArn),
    },
    // Approval mode does not matter here: the handler registers nothing.
    registry: { sagemaker: new SageMakerClient({}), group: required(e.group), approval: 'manual' },
    now: () => new Date(),
    actor: async () => `lambda:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'model-approval'}`,
  };
}

let ctx: Lifecycle | undefined;

/** EventBridge target: "SageMaker Model Package State Change" of the team's group. */
export async function handler(event: ModelPackageStateChange) {
  ctx ??= lifecycleFromEnv();
  const outcome = await handleModelPackageStateChange(ctx, event);
  console.log(JSON.stringify({ event: event.detail.ModelPackageArn, ...outcome }));
  return outcome;
}
