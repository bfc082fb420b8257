/**
 * The retraining pipeline's contract: what its construct (constructs/lifecycle/retraining-
 * pipeline.ts) sets and what its step handler (./handler.ts) and `npm run retrain` read.
 * Imports nothing at run time (the policy types only).
 */
import type { CanaryPolicy } from './canary';
import type { GatePolicy } from './gate';

/** The step handler's environment. */
export const PIPELINE_HANDLER_ENV = {
  team: 'ML_TEAM',
  stage: 'ML_STAGE',
  bucket: 'MODEL_STORE_BUCKET',
  modelName: 'MODEL_NAME',
  kmsKeyArn: 'MODEL_STORE_KMS_KEY_ARN',
  group: 'MODEL_PACKAGE_GROUP',
  approval: 'MODEL_APPROVAL',
  lockTable: 'PIPELINE_LOCK_TABLE',
  topicArn: 'PIPELINE_TOPIC_ARN',
  /** JSON of PipelinePolicy: the gate's and the canary check's settings from the team file. */
  policy: 'PIPELINE_POLICY',
} as const;

/**
 * Where the retraining pipeline takes its data: `<data-s3-uri>/current/<channel>/` in the
 * `features` zone (`train/`, and optionally `validation/` and `test/`). The team's data
 * pipeline writes the newest data set there; each execution trains on what it finds.
 */
export const PIPELINE_DATA_FOLDER = 'current';

/** What the step handler is asked to do, by the state machine (the `step` field). */
export const PIPELINE_STEPS = [
  'lock',
  'release',
  'prepare',
  'gate',
  'publish',
  'await-approval',
  'resume',
  'canary',
  'check',
  'promote',
  'rollback',
  'cleanup',
  'notify',
] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** The lock item's key in the lock table: one item per team environment. */
export const LOCK_KEY = 'pk';

/** Error names the handler throws that the state machine catches by name. */
export const PIPELINE_ERRORS = {
  /** The registry rejected the package while the execution waited for approval. */
  rejected: 'ModelPackageRejected',
} as const;

/** The gate's and the canary check's settings, the canary and the bake (docs/configuration.md, "pipeline"). */
export interface PipelinePolicy extends GatePolicy, CanaryPolicy {
  readonly canaryPercent: number;
  readonly bakeMinutes: number;
  readonly lowTraffic: 'extend' | 'rollback';
  readonly maxBakeExtensions: number;
}

/**
 * The SSM parameter, under the team's training path (`/ml-platform/<team>/<stage>/training/`),
 * that holds the state machine's ARN: `npm run retrain` starts executions through it.
 */
export const STATE_MACHINE_PARAMETER = 'pipeline/state-machine-arn';
