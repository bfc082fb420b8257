import { z } from 'zod';
import { APPROVAL_MODES, TRACKING_SERVER_SIZES } from '../../constructs/training/contract';
import {
  DEFAULT_TRAINING_INSTANCE_TYPE,
  instanceShape,
} from '../../constructs/training/instance-types';
import { MODEL_NAME_PATTERN } from '../../serving/src/store/layout';
import { objectiveIssues } from '../../serving/src/bundle/quality';

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

/**
 * The team's success metric (guide, phase 1.3): the trainer chooses the decision threshold for
 * it, compares the model with its baselines on it and records whether the target was met.
 * Metric names, parameters and ranges: serving/src/bundle/quality.ts.
 */
export const objectiveSchema = z
  .strictObject({
    /** roc_auc, f1, precision_at_recall, recall_at_precision, accuracy, mae or rmse. */
    metric: z.string({ error: required('must be a metric name, like precision_at_recall') }),
    /** The recall (precision_at_recall) or precision (recall_at_precision) floor, in (0, 1]. */
    parameter: z.number().optional(),
    /** The value the model must reach on the test split. */
    target: z.number({ error: required('must be a number: the value the model must reach') }),
  })
  .superRefine((objective, ctx) => {
    for (const issue of objectiveIssues(objective)) {
      ctx.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
    }
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
  /**
   * Instances per training job: SageMaker's default instance count; above 1 the stack also
   * creates an AWS Batch multi-node parallel job definition of that many nodes.
   */
  instanceCount: z.number().int().min(1).max(64).optional(),
  /** GPUs used per instance, one trainer process each (default: all of the instance type's). */
  gpusPerInstance: z.number().int().min(1).max(16).optional(),
  /** Hard limit on one job's run time, in hours. */
  maxRuntimeHours: z.number().positive().max(672).optional(),
  /** Maximum vCPUs of the Batch GPU compute environment (0 when idle). */
  maxVcpus: z.number().int().min(0).max(10000).optional(),
  /** Retraining schedule as a cron or rate expression for EventBridge (unset: no schedule). */
  retrainSchedule: z
    .string()
    .regex(
      /^(cron\((\S+ ){5}\S+\)|rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\))$/,
      'must be an EventBridge schedule like "cron(0 3 ? * MON *)" or "rate(7 days)"',
    )
    .optional(),
  /**
   * The retraining gate's tolerance on the primary metric, a share of production's value: a
   * candidate passes when it reaches production x (1 - promotionMargin) (higher-is-better
   * metrics; production x (1 + promotionMargin) for lower-is-better ones).
   */
  promotionMargin: z.number().min(0).max(1).optional(),
  /** The success metric and its target; unset: the trainer's default (f1, no target). */
  objective: objectiveSchema.optional(),
  /**
   * How a published model gets approved in the registry: `manual` (PendingManualApproval; a
   * person approves, which promotes it) or `auto` (Approved at publish). prod: manual.
   */
  approval: z
    .enum(APPROVAL_MODES, { error: `must be one of ${APPROVAL_MODES.join(', ')}` })
    .optional(),
  /** A SageMaker managed MLflow tracking server for the team's runs. */
  experimentTracking: z
    .strictObject({
      enabled: z.boolean().optional(),
      size: z.enum(TRACKING_SERVER_SIZES).optional(),
    })
    .optional(),
});

/** A share in [0, 1] of the metric's own scale ("points" on a 0..1 metric: 0.02 = 2 points). */
const points = z.number().min(0).max(1);

/**
 * The retraining pipeline (guide, phase 7.5): present, the team gets a Step Functions workflow
 * that trains, gates, publishes, canaries and promotes or rolls back. Absent: no pipeline.
 * The gate's rules: training/launcher/pipeline/gate.ts.
 */
export const pipelineSchema = z.strictObject({
  /** Share of requests (1..50 %) the candidate answers during the bake. */
  canaryPercent: z.number().gt(0).max(50).optional(),
  /** Minutes the canary bakes before its figures are judged. */
  bakeMinutes: z.number().int().min(1).max(1440).optional(),
  /** Hours a prod execution waits for the registry approval before it gives up. */
  approvalTimeoutHours: z.number().int().min(1).max(168).optional(),
  /** What a canary with too few requests to judge leads to: bake again (up to maxBakeExtensions), or roll back. */
  lowTraffic: z.enum(['extend', 'rollback'], { error: 'must be extend or rollback' }).optional(),
  /** Requests the candidate must answer in the bake window for its figures to count. */
  minCanaryRequests: z.number().int().min(1).max(10_000_000).optional(),
  /** Extra bakes a low-traffic canary gets before it is rolled back (lowTraffic: extend). */
  maxBakeExtensions: z.number().int().min(0).max(10).optional(),
  /** The canary check: how much worse than production the candidate may be. */
  canary: z
    .strictObject({
      /** Error rate above production's by more than this (a share, 0.01 = 1 point) fails. */
      maxErrorRateIncrease: points.optional(),
      /** p99 latency above production's by more than this share (0.2 = 20 % slower) fails. */
      maxLatencyIncrease: z.number().min(0).max(10).optional(),
      /** Low-confidence share above production's by more than this fails. */
      maxLowConfidenceIncrease: points.optional(),
    })
    .optional(),
  /** The gate: candidate manifest against production's. */
  gate: z
    .strictObject({
      /** The primary metric's absolute floor: a first model must reach it, and every later one too. */
      primaryFloor: z.number().optional(),
      /** No segment's metric may fall below this. */
      segmentFloor: z.number().optional(),
      /** No segment may regress against production by more than this many points. */
      maxSegmentRegression: points.optional(),
      /** Segments with fewer test rows are not judged (too noisy). */
      minSegmentRows: z.number().int().min(1).max(1_000_000).optional(),
    })
    .optional(),
});

const ipv4Cidr = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(\d|[12]\d|3[0-2])$/,
    'must be an IPv4 CIDR like 203.0.113.0/24',
  );

const ec2InstanceType = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an EC2 instance type like m6i.large');

export const nodeGroupSchema = z.strictObject({
  /** EC2 instance types of the managed node group (one size family: the autoscaler assumes it). */
  instanceTypes: z.array(ec2InstanceType).min(1, 'must list at least one instance type').optional(),
  /** Nodes the autoscaler never goes below. */
  minSize: z.number().int().min(0).max(100).optional(),
  /** Nodes the autoscaler never goes above (the cost ceiling of the group). */
  maxSize: z.number().int().min(1).max(1000).optional(),
});

/**
 * The shared EKS cluster of the team's account and region. Teams of one account and region
 * share it: see `derivePlatforms` (./platform.ts) for how their settings combine.
 */
export const clusterSchema = z.strictObject({
  /**
   * CIDRs allowed to reach the Kubernetes API endpoint over the internet. Empty (the default)
   * keeps the endpoint private: reachable only from inside the VPC.
   */
  endpointPublicCidrs: z.array(ipv4Cidr).max(40).optional(),
  /** IAM roles that get cluster-admin through EKS access entries (platform operators). */
  adminRoleArns: z
    .array(
      z
        .string()
        .regex(
          /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
          'must be an IAM role ARN like arn:aws:iam::123456789012:role/PlatformAdmin',
        ),
    )
    .optional(),
  /** The CPU node group every workload runs on. */
  nodes: nodeGroupSchema.optional(),
  /**
   * A GPU node group (tainted nvidia.com/gpu=true:NoSchedule, NVIDIA device plugin installed).
   * Present: created; absent: no GPU nodes.
   */
  gpuNodes: nodeGroupSchema.optional(),
});

/**
 * Why a team file may not give the service GPUs: the image ships the CPU-only ONNX Runtime and
 * the session uses the CPU execution provider, so requested GPUs would be paid for and idle.
 */
export const GPU_SERVING_REFUSED =
  'must be 0: the serving image has the CPU-only ONNX Runtime and runs the CPU execution provider, so GPUs requested for its pods would sit idle (and be paid for); size serving.cpuMillicores instead (GPU training is unaffected: training.instanceType)';

export const servingSchema = z.strictObject({
  /** Model name served by the team's inference service (the URL name and its store folder). */
  modelName: z
    .string()
    .regex(
      MODEL_NAME_PATTERN,
      'must be a DNS label: up to 63 lowercase letters, digits and dashes, not starting or ending with a dash',
    )
    .optional(),
  minReplicas: z.number().int().min(1).max(100).optional(),
  maxReplicas: z.number().int().min(1).max(500).optional(),
  /** CPU per pod, in millicores (request = limit for a guaranteed QoS class). */
  cpuMillicores: z.number().int().min(100).max(64000).optional(),
  /** Memory per pod, in MiB. */
  memoryMiB: z.number().int().min(128).max(262144).optional(),
  /** p99 latency target in milliseconds (alarm threshold). */
  latencyP99Ms: z.number().positive().max(60000).optional(),
  /**
   * Refused above 0 (see GPU_SERVING_REFUSED): the service runs ONNX Runtime's CPU execution
   * provider, so GPUs a pod requested would sit idle. Kept so a file that sets it gets the reason.
   */
  gpusPerPod: z.number().int().min(0).max(16).optional(),
  /**
   * Share of requests (0..1) whose input and output the service captures, batched, into the
   * team's data lake (`processed` zone, `feedback/` prefix) for offline drift analysis.
   */
  captureSampleRate: z.number().min(0).max(1).optional(),
  /**
   * Share of successful inference requests (0..1) that get an access log line; 4xx, 5xx and
   * requests slower than latencyP99Ms are always logged.
   */
  accessLogSampleRate: z.number().min(0).max(1).optional(),
  /**
   * Requests per second per API key. The fleet-wide limit is an AWS WAF rate-based rule on the
   * team's load balancer (counted over 60 s, so however many pods run); each pod also limits a
   * key to perPodRequestsPerSecond as a second line, for bursts faster than WAF's count.
   */
  rateLimit: z
    .strictObject({
      requestsPerSecond: z.number().int().min(1).max(1_000_000).optional(),
      perPodRequestsPerSecond: z.number().int().min(1).max(1_000_000).optional(),
    })
    .optional(),
  /**
   * Days between automatic rotations of the serving API keys. Each rotation adds a new key
   * and keeps the previous one, which stops working at the rotation after.
   */
  apiKeyRotationDays: z.number().int().min(1).max(365).optional(),
  /**
   * Ground truth for earlier predictions (`POST /v1/models/<name>:feedback`). Every pod writes
   * its predictions to the team's DynamoDB prediction table, so feedback posted to any pod
   * matches, for `windowHours` after the prediction (the items' TTL).
   */
  feedback: z
    .strictObject({
      windowHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 366)
        .optional(),
      /** Point-in-time recovery of the prediction table (default: on in prod). */
      pointInTimeRecovery: z.boolean().optional(),
    })
    .optional(),
  /**
   * ResourceQuota of the team's namespace: what all its pods together may request.
   * Default: enough for maxReplicas + 1 surge pod (GPUs included).
   */
  quota: z
    .strictObject({
      /** CPU cores. */
      cpu: z.number().positive().max(10000).optional(),
      /** Memory in GiB. */
      memoryGiB: z.number().positive().max(100000).optional(),
      /** GPUs (`requests.nvidia.com/gpu`): refused above 0, like gpusPerPod. */
      gpus: z.number().int().min(0).max(1000).optional(),
    })
    .optional(),
  /** How requests reach the service: an Application Load Balancer created by the ingress. */
  ingress: z
    .strictObject({
      /** ACM certificate for the HTTPS listener, in the team's region (required). */
      certificateArn: z
        .string()
        .regex(
          /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/,
          'must be an ACM certificate ARN like arn:aws:acm:eu-west-1:123456789012:certificate/<uuid>',
        )
        .optional(),
      /** `internal` (only reachable from the VPC and peered networks) or `internet-facing`. */
      scheme: z
        .enum(['internal', 'internet-facing'], { error: 'must be internal or internet-facing' })
        .optional(),
      /** Client CIDRs allowed to reach the load balancer (required for internet-facing). */
      allowedClientCidrs: z.array(ipv4Cidr).min(1).max(40).optional(),
    })
    .optional(),
});

export const monitoringSchema = z.strictObject({
  /** 5xx share of requests (0..1) that raises HighErrorRate. */
  errorRateThreshold: z.number().gt(0).lt(1).optional(),
  /** Mean prediction confidence below which LowConfidence fires. */
  lowConfidenceThreshold: z.number().gt(0).lt(1).optional(),
  /** Population Stability Index above which DataDrift fires. */
  driftThreshold: z.number().positive().max(10).optional(),
  /** Fleet-wide live accuracy (from feedback, per hour) below which LowAccuracy fires. */
  lowAccuracyThreshold: z.number().gt(0).lt(1).optional(),
  /** Matched feedback an hour needs before LowAccuracy judges it (fewer: no verdict). */
  minFeedbackPerHour: z.number().int().min(1).max(1_000_000).optional(),
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
    cluster: clusterSchema.optional(),
    serving: servingSchema.optional(),
    monitoring: monitoringSchema.optional(),
    pipeline: pipelineSchema.optional(),
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
    if ((file.serving?.gpusPerPod ?? 0) > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'gpusPerPod'],
        message: GPU_SERVING_REFUSED,
      });
    }
    if ((file.serving?.quota?.gpus ?? 0) > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'quota', 'gpus'],
        message: GPU_SERVING_REFUSED,
      });
    }
    for (const group of ['nodes', 'gpuNodes'] as const) {
      const { minSize, maxSize } = file.cluster?.[group] ?? {};
      if (minSize !== undefined && maxSize !== undefined && minSize > maxSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['cluster', group, 'maxSize'],
          message: `must be >= cluster.${group}.minSize (${minSize})`,
        });
      }
    }
    file.cluster?.endpointPublicCidrs?.forEach((cidr, i) => {
      if (cidr.endsWith('/0')) {
        ctx.addIssue({
          code: 'custom',
          path: ['cluster', 'endpointPublicCidrs', i],
          message:
            'must not open the Kubernetes API to the whole internet: list your VPN or office ranges',
        });
      }
    });
    const training = file.training ?? {};
    const instanceType = training.instanceType ?? DEFAULT_TRAINING_INSTANCE_TYPE;
    const shape = instanceShape(instanceType);
    if (shape && training.gpusPerInstance !== undefined && training.gpusPerInstance > shape.gpus) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'gpusPerInstance'],
        message: `is ${training.gpusPerInstance}, but ${instanceType} has ${shape.gpus || 'no'} GPU${shape.gpus === 1 ? '' : 's'}`,
      });
    }
    if ((training.instanceCount ?? 1) > 1) {
      if (!shape) {
        ctx.addIssue({
          code: 'custom',
          path: ['training', 'instanceType'],
          message: `${instanceType} is not a known training instance type (constructs/training/instance-types.ts), so a ${training.instanceCount}-instance job cannot size its nodes: use a listed GPU type or add it there`,
        });
      } else if (shape.gpus === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['training', 'instanceCount'],
          message: `is ${training.instanceCount}, but ${instanceType} has no GPU: multi-instance training runs one process per GPU and talks NCCL between them`,
        });
      }
    }
    if (file.training?.retrainSchedule !== undefined && file.pipeline === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'retrainSchedule'],
        message: 'needs a pipeline section: the schedule starts the retraining pipeline',
      });
    }
    const ingress = file.serving?.ingress;
    const certificateArn = ingress?.certificateArn;
    if (certificateArn === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'ingress', 'certificateArn'],
        message: `is required: the service is only served over HTTPS (an ACM certificate in ${file.region})`,
      });
    }
    if (ingress?.scheme === 'internet-facing' && !ingress.allowedClientCidrs) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'ingress', 'allowedClientCidrs'],
        message:
          'is required for an internet-facing load balancer: list the client ranges (["0.0.0.0/0"] means the whole internet)',
      });
    }
    if (certificateArn !== undefined && certificateArn.split(':')[3] !== file.region) {
      ctx.addIssue({
        code: 'custom',
        path: ['serving', 'ingress', 'certificateArn'],
        message: `must be a certificate in ${file.region}: a load balancer only uses certificates of its own region`,
      });
    }
  });

export type TeamFile = z.infer<typeof teamFileSchema>;
