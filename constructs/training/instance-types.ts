/**
 * GPUs, vCPUs and memory of the instance types training knows, in one place: config
 * validation refuses multi-node training that cannot work, the Batch multi-node job
 * definition sizes its node containers from it, and the launcher tells the trainer how many
 * processes to start per instance (one per GPU). Keys are EC2 names; SageMaker's `ml.` prefix
 * is accepted everywhere. No aws-cdk-lib here: the launcher imports it.
 */
/** The training instance type when a team file names none. */
export const DEFAULT_TRAINING_INSTANCE_TYPE = 'ml.g5.xlarge';

export interface InstanceShape {
  readonly gpus: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
}

const shape = (gpus: number, vcpus: number, memoryGiB: number): InstanceShape => ({
  gpus,
  vcpus,
  memoryGiB,
});

export const INSTANCE_SHAPES: Readonly<Record<string, InstanceShape>> = {
  'g4dn.xlarge': shape(1, 4, 16),
  'g4dn.2xlarge': shape(1, 8, 32),
  'g4dn.4xlarge': shape(1, 16, 64),
  'g4dn.8xlarge': shape(1, 32, 128),
  'g4dn.12xlarge': shape(4, 48, 192),
  'g4dn.16xlarge': shape(1, 64, 256),
  'g4dn.metal': shape(8, 96, 384),
  'g5.xlarge': shape(1, 4, 16),
  'g5.2xlarge': shape(1, 8, 32),
  'g5.4xlarge': shape(1, 16, 64),
  'g5.8xlarge': shape(1, 32, 128),
  'g5.12xlarge': shape(4, 48, 192),
  'g5.16xlarge': shape(1, 64, 256),
  'g5.24xlarge': shape(4, 96, 384),
  'g5.48xlarge': shape(8, 192, 768),
  'g6.xlarge': shape(1, 4, 16),
  'g6.2xlarge': shape(1, 8, 32),
  'g6.12xlarge': shape(4, 48, 192),
  'g6.48xlarge': shape(8, 192, 768),
  'g6e.xlarge': shape(1, 4, 32),
  'g6e.12xlarge': shape(4, 48, 384),
  'g6e.48xlarge': shape(8, 192, 1536),
  'p3.2xlarge': shape(1, 8, 61),
  'p3.8xlarge': shape(4, 32, 244),
  'p3.16xlarge': shape(8, 64, 488),
  'p3dn.24xlarge': shape(8, 96, 768),
  'p4d.24xlarge': shape(8, 96, 1152),
  'p4de.24xlarge': shape(8, 96, 1152),
  'p5.48xlarge': shape(8, 192, 2048),
  // CPU types, so that asking them for GPUs fails with a reason rather than "unknown".
  'm5.xlarge': shape(0, 4, 16),
  'm5.2xlarge': shape(0, 8, 32),
  'm5.4xlarge': shape(0, 16, 64),
  'c5.xlarge': shape(0, 4, 8),
  'c5.2xlarge': shape(0, 8, 16),
  'c5.4xlarge': shape(0, 16, 32),
};

/** The shape of `instanceType` (`g5.xlarge` or `ml.g5.xlarge`); undefined when not in the table. */
export function instanceShape(instanceType: string): InstanceShape | undefined {
  return INSTANCE_SHAPES[instanceType.replace(/^ml\./, '')];
}
