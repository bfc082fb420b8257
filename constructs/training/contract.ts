import { objectiveIssues, type Objective } from '../../serving/src/bundle/quality';

/**
 * The training contract with the infrastructure: SSM parameters under
 * `/ml-platform/<team>/<stage>/training/`, created by the team's training stack and read
 * by the launcher (training/launcher), so nothing is typed by hand. Both sides take the names
 * from here. docs/training-contract.md is the written form.
 */
export const TRAINING_PARAMETERS = {
  'role-arn': 'SageMaker execution role the training job assumes',
  'image-uri': 'trainer container image (ECR URI) for SageMaker and Batch',
  'instance-type': 'default GPU instance type for SageMaker training, e.g. ml.g5.xlarge',
  'data-s3-uri': 's3:// prefix in the data lake where the launcher uploads training data',
  'output-s3-uri': 's3:// prefix where jobs write model.tar.gz',
  'checkpoint-s3-uri': 's3:// prefix for checkpoints (spot interruptions resume from here)',
  'kms-key-arn': 'KMS key for uploaded data, job output, checkpoints and training volumes',
  'subnet-ids': 'StringList of private subnet IDs for training jobs',
  'security-group-ids': 'StringList of security group IDs for training jobs',
  'max-runtime-seconds': 'optional, default 86400: StoppingCondition.MaxRuntimeInSeconds',
  'max-wait-seconds': 'optional, default 2 x max runtime: how long a spot job may wait plus run',
  spot: 'optional, default true: "false" turns managed spot training off',
  'volume-size-gb': 'optional, default 50: training volume size',
  'metric-definitions':
    'optional JSON [{Name, Regex}]: overrides the metric definitions of the reference trainer',
  'batch/job-queue': 'AWS Batch GPU job queue (name or ARN) for --mode ec2',
  'batch/job-definition': 'AWS Batch job definition (name, name:revision or ARN) for --mode ec2',
  'model-package-group': 'SageMaker model package group (the model registry) of the team',
  objective:
    'optional JSON {"metric", "parameter"?, "target"}: training.objective of the team file, passed to the trainer',
  'model-name':
    'the model the team serves (serving.modelName): its folder in the model store and its registry group',
  approval:
    'manual | auto (training.approval): whether a published model package starts PendingManualApproval or Approved',
  'mlflow/tracking-server-arn':
    "optional: ARN of the team's SageMaker MLflow tracking server (training.experimentTracking); the launcher passes it to the trainer",
} as const;
export type TrainingParameter = keyof typeof TRAINING_PARAMETERS;

/** The `objective` parameter's value: JSON with the keys in a fixed order (deterministic synth). */
export function encodeObjective(objective: Objective): string {
  const { metric, parameter, target } = objective;
  return JSON.stringify({ metric, ...(parameter !== undefined ? { parameter } : {}), target });
}

/** Reads the `objective` parameter's value back; throws an Error saying what is wrong. */
export function decodeObjective(raw: string): Objective {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('is not valid JSON');
  }
  const o = value as Record<string, unknown>;
  const numberOrUndefined = (v: unknown) => (v === undefined || typeof v === 'number' ? v : NaN);
  if (typeof o !== 'object' || o === null || typeof o.metric !== 'string')
    throw new Error('must be a JSON object with a "metric"');
  const objective = {
    metric: o.metric,
    parameter: numberOrUndefined(o.parameter) as number | undefined,
    target: numberOrUndefined(o.target) as number | undefined,
  };
  const issues = objectiveIssues(objective);
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  return objective as Objective;
}

/** Values of the `approval` parameter. */
export const APPROVAL_MODES = ['manual', 'auto'] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];
/** Sizes of a SageMaker managed MLflow tracking server (`training.experimentTracking.size`). */
export const TRACKING_SERVER_SIZES = ['Small', 'Medium', 'Large'] as const;
export type TrackingServerSize = (typeof TRACKING_SERVER_SIZES)[number];

/**
 * The trainer's experiment tracking environment (MLflow's own variable names): the launcher
 * sets them on the job, training/reference/ml_trainer/tracking.py reads them. With a tracking
 * server ARN as the URI, the MLflow client's sagemaker-mlflow plugin signs the calls.
 */
export const TRACKING_ENV = {
  trackingUri: 'MLFLOW_TRACKING_URI',
  experimentName: 'MLFLOW_EXPERIMENT_NAME',
  runName: 'MLFLOW_RUN_NAME',
} as const;
