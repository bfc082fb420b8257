import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { ApprovalMode } from '../../../constructs/training/contract';
import { MODEL_STORE_PREFIX, modelRoot } from '../../../serving/src/store/layout';

/**
 * Everything a lifecycle operation (publish, promote, rollback, status, list) works on. The
 * CLI builds it from the team's SSM parameters, the approval Lambda from its environment; the
 * operations are the same functions either way.
 */
export interface Lifecycle {
  readonly store: ModelStore;
  readonly registry: Registry;
  readonly now: () => Date;
  /** Who is acting, for the alias files' `updated_by` (an ARN or a name). */
  readonly actor: () => Promise<string>;
}

/** One model's folder in the team's models bucket (serving/src/store/layout.ts). */
export interface ModelStore {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly modelName: string;
  /** SSE-KMS key for every object written. */
  readonly kmsKeyArn: string;
}

/** The team's model package group. */
export interface Registry {
  readonly sagemaker: SageMakerClient;
  readonly group: string;
  readonly approval: ApprovalMode;
}

/** Key prefix of the model's folder: `models/<model name>`. */
export function modelPrefix(store: ModelStore): string {
  return modelRoot(MODEL_STORE_PREFIX, store.modelName);
}

/** `s3://<bucket>/models/<model name>[/<path>]`. */
export function storeUri(store: ModelStore, path?: string): string {
  return `s3://${store.bucket}/${modelPrefix(store)}${path ? `/${path}` : ''}`;
}
