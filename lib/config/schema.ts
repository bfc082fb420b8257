import { z } from 'zod';

/**
 * The schema of one team environment file (`config/teams/<file>.yaml`).
 *
 * Every object is strict: an unknown key is an error, so a typo never silently falls back to a
 * default. Optional fields are left undefined here; stage-aware defaults are applied in one
 * place, `resolveTeamConfig` (./defaults.ts), so the file stays a faithful record of intent.
 */

export const STAGES = ['dev', 'staging', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

const positiveDays = z.number().int().positive().max(36500);

const email = z.email({ error: 'must be an email address' });

/** An error message for a field, with "is required" when the field is absent. */
const required =
  (message: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'is required' : message;

export const dataLakeSchema = z.strictObject({
  /** A dev stage whose data may be destroyed with the stack (buckets emptied and deleted). */
  throwaway: z.boolean().optional(),
  /** WORM retention for the raw zone; set at bucket creation, cannot be removed later. */
  rawObjectLock: z
    .strictObject({
      mode: z.enum(['governance', 'compliance']),
      days: positiveDays,
    })
    .optional(),
  lifecycle: z
    .strictObject({
      /** Days before objects move to S3 Intelligent-Tiering. */
      intelligentTieringDays: z.number().int().min(0).max(36500).optional(),
      /** Days before the raw zone moves to Glacier Flexible Retrieval (unset: never). */
      rawGlacierDays: positiveDays.optional(),
      /** Days a noncurrent (overwritten or deleted) object version is kept. */
      noncurrentVersionDays: positiveDays.optional(),
      /** Days before an incomplete multipart upload is aborted. */
      abortIncompleteUploadDays: positiveDays.optional(),
      /** Days access logs are kept. */
      accessLogDays: positiveDays.optional(),
    })
    .optional(),
});

export const networkSchema = z.strictObject({
  /** VPC CIDR of the platform network for this account and region. */
  cidr: z
    .string()
    .regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'must be an IPv4 CIDR from /16 to /24')
    .optional(),
  /** NAT gateways (dev: 1, staging and prod: one per availability zone). */
  natGateways: z.number().int().min(0).max(6).optional(),
});

export const trainingSchema = z.strictObject({
  /** Where training runs by default: SageMaker managed training or AWS Batch on EC2 GPUs. */
  platform: z.enum(['sagemaker', 'ec2']).optional(),
  /** GPU instance type for training jobs. */
  instanceType: z
    .string()
    .regex(/^(ml\.)?[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an instance type like ml.g5.xlarge')
    .optional(),
  /** Use managed spot capacity (with checkpoints) for SageMaker training. */
  spot: z.boolean().optional(),
  /** Hard limit on one job's run time, in hours. */
  maxRuntimeHours: z.number().positive().max(672).optional(),
  /** Maximum vCPUs of the Batch GPU compute environment (0 when idle). */
  maxVcpus: z.number().int().min(0).max(10000).optional(),
  /** Retraining schedule as a cron or rate expression for EventBridge (unset: no schedule). */
  retrainSchedule: z.string().min(1).optional(),
  /** A candidate is promoted only if its metric beats production by at least this much. */
  promotionMargin: z.number().min(0).max(1).optional(),
});

export const servingSchema = z.strictObject({
  /** Model name served by the team's inference service (the URL name). */
  modelName: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes')
    .optional(),
  minReplicas: z.number().int().min(1).max(100).optional(),
  maxReplicas: z.number().int().min(1).max(500).optional(),
  /** CPU per pod, in millicores (request = limit for a guaranteed QoS class). */
  cpuMillicores: z.number().int().min(100).max(64000).optional(),
  /** Memory per pod, in MiB. */
  memoryMiB: z.number().int().min(128).max(262144).optional(),
  /** p99 latency target in milliseconds (alarm threshold). */
  latencyP99Ms: z.number().positive().max(60000).optional(),
});

export const monitoringSchema = z.strictObject({
  /** 5xx share of requests (0..1) that raises HighErrorRate. */
  errorRateThreshold: z.number().gt(0).lt(1).optional(),
  /** Mean prediction confidence below which LowConfidence fires. */
  lowConfidenceThreshold: z.number().gt(0).lt(1).optional(),
  /** Population Stability Index above which DataDrift fires. */
  driftThreshold: z.number().positive().max(10).optional(),
  /** Monthly budget for the team in USD (unset: no budget alarm). */
  monthlyBudgetUsd: z.number().positive().optional(),
  /** Days CloudWatch logs are kept (dev: 30, staging: 90, prod: 365). */
  logRetentionDays: z.number().int().positive().optional(),
});

export const teamFileSchema = z
  .strictObject({
    /** Team name: DNS-safe, used in stack, resource and namespace names. */
    team: z
      .string({ error: required('must be a lowercase name like "fraud"') })
      .regex(
        /^[a-z][a-z0-9-]{1,19}$/,
        'must be 2-20 characters: lowercase letters, digits and dashes, starting with a letter',
      ),
    stage: z.enum(STAGES, { error: required(`must be one of ${STAGES.join(', ')}`) }),
    account: z
      .string({
        error: required('must be a 12-digit AWS account id in quotes, like "123456789012"'),
      })
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id, like "123456789012"'),
    region: z
      .string({ error: required('must be an AWS region like "eu-west-1"') })
      .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'must be an AWS region like "eu-west-1"'),
    availabilityZones: z
      .array(z.string().regex(/^[a-z0-9-]+[a-z]$/, 'must be an availability zone name'), {
        error: required('must be a list of availability zone names'),
      })
      .min(2, 'must list at least 2 availability zones (EKS and HA need two)')
      .max(6),
    costCenter: z.string().min(1, 'must not be empty'),
    owners: z.array(email).min(1, 'must list at least one owner'),
    alarmEmails: z.array(email).min(1, 'must list at least one address for alarms'),
    network: networkSchema.optional(),
    dataLake: dataLakeSchema.optional(),
    training: trainingSchema.optional(),
    serving: servingSchema.optional(),
    monitoring: monitoringSchema.optional(),
  })
  .superRefine((file, ctx) => {
    file.availabilityZones.forEach((az, i) => {
      if (!az.startsWith(file.region)) {
        ctx.addIssue({
          code: 'custom',
          path: ['availabilityZones', i],
          message: `"${az}" is not in region ${file.region}`,
        });
      }
    });
    if (new Set(file.availabilityZones).size !== file.availabilityZones.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['availabilityZones'],
        message: 'lists an availability zone twice',
      });
    }
    if (file.dataLake?.throwaway && file.stage !== 'dev') {
      ctx.addIssue({
        code: 'custom',
        path: ['dataLake', 'throwaway'],
        message: `is only allowed for stage dev (this file is stage ${file.stage}): data is never thrown away elsewhere`,
      });
    }
    if (file.dataLake?.throwaway && file.dataLake.rawObjectLock) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataLake', 'rawObjectLock'],
        message: 'cannot be combined with throwaway: locked objects cannot be deleted',
      });
    }
    const lifecycle = file.dataLake?.lifecycle;
    if (
      lifecycle?.rawGlacierDays !== undefined &&
      lifecycle.rawGlacierDays <= (lifecycle.intelligentTieringDays ?? 30)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataLake', 'lifecycle', 'rawGlacierDays'],
        message: `must be greater than intelligentTieringDays (${lifecycle.intelligentTieringDays ?? 30})`,
      });
    }
    const { minReplicas, maxReplicas } = file.serving ?? {};
    if (minReplicas !== undefined && maxReplicas !== undefined && minReplicas > maxReplicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'maxReplicas'],
        message: `must be >= serving.minReplicas (${minReplicas})`,
      });
    }
  });

export type TeamFile = z.infer<typeof teamFileSchema>;
