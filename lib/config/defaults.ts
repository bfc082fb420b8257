import {
  DEFAULT_TRAINING_INSTANCE_TYPE,
  instanceShape,
} from '../../constructs/training/instance-types';
import type { Objective } from '../../serving/src/bundle/quality';
import { DEFAULT_FEEDBACK_WINDOW_S } from '../../serving/src/feedback';
import type { ApprovalMode, TrackingServerSize } from '../../constructs/training/contract';
import type { Stage, TeamFile } from './schema';

/** A team environment with every default applied: what stacks and constructs receive. */
export interface TeamConfig {
  readonly team: string;
  readonly stage: Stage;
  readonly account: string;
  readonly region: string;
  readonly availabilityZones: readonly string[];
  readonly costCenter: string;
  readonly owners: readonly string[];
  readonly alarmEmails: readonly string[];
  /** The file this environment came from, relative to the working directory. */
  readonly sourceFile: string;
  /** RETAIN data and keys on stack deletion (false only for a throwaway dev stage). */
  readonly retainData: boolean;
  /** CloudFormation termination protection (prod). */
  readonly terminationProtection: boolean;
  readonly network: {
    readonly cidr: string;
    readonly natGateways: number;
  };
  readonly dataLake: {
    readonly throwaway: boolean;
    readonly rawObjectLock?: { readonly mode: 'governance' | 'compliance'; readonly days: number };
    readonly lifecycle: {
      readonly intelligentTieringDays: number;
      readonly rawGlacierDays?: number;
      readonly noncurrentVersionDays: number;
      readonly abortIncompleteUploadDays: number;
      readonly accessLogDays: number;
    };
  };
  readonly training: {
    readonly platform: 'sagemaker' | 'ec2';
    readonly instanceType: string;
    readonly spot: boolean;
    /** Instances per job; above 1 also a Batch multi-node parallel job definition. */
    readonly instanceCount: number;
    /** Trainer processes per instance: its GPUs (0 on a CPU type: one process). */
    readonly gpusPerInstance: number;
    readonly maxRuntimeHours: number;
    readonly maxVcpus: number;
    readonly retrainSchedule?: string;
    readonly promotionMargin: number;
    /** Unset: the trainer's default objective (f1, no target). */
    readonly objective?: Objective;
    /** Registry approval of published models (prod: manual, dev and staging: auto). */
    readonly approval: ApprovalMode;
    /** A SageMaker MLflow tracking server for the team (off in dev unless asked for). */
    readonly experimentTracking: {
      readonly enabled: boolean;
      readonly size: TrackingServerSize;
    };
  };
  /** The shared EKS cluster as this team asks for it (see `derivePlatforms`). */
  readonly cluster: {
    /** Empty: the API endpoint is private. */
    readonly endpointPublicCidrs: readonly string[];
    readonly adminRoleArns: readonly string[];
    readonly nodes: NodeGroupConfig;
    /** Unset: no GPU node group. */
    readonly gpuNodes?: NodeGroupConfig;
  };
  readonly serving: {
    readonly modelName: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly cpuMillicores: number;
    readonly memoryMiB: number;
    readonly latencyP99Ms: number;
    /** Share of requests captured to the data lake (0: off). */
    readonly captureSampleRate: number;
    /** Share of successful inference requests that get an access log line. */
    readonly accessLogSampleRate: number;
    /** Per API key: fleet-wide (WAF on the load balancer) and per pod (the service's limiter). */
    readonly rateLimit: {
      readonly requestsPerSecond: number;
      readonly perPodRequestsPerSecond: number;
    };
    /** Days between API key rotations (the previous key stays valid one more interval). */
    readonly apiKeyRotationDays: number;
    /** The fleet's prediction table: how long feedback can match, and its backups. */
    readonly feedback: { readonly windowHours: number; readonly pointInTimeRecovery: boolean };
    /** ResourceQuota of the team namespace. */
    readonly quota: { readonly cpu: number; readonly memoryGiB: number };
    readonly ingress: {
      /** ACM certificate of the HTTPS listener. */
      readonly certificateArn: string;
      readonly scheme: 'internal' | 'internet-facing';
      /** Empty: any client that can route to the (internal) load balancer. */
      readonly allowedClientCidrs: readonly string[];
    };
  };
  /** The retraining pipeline; unset: the team has none. */
  readonly pipeline?: PipelineConfig;
  readonly monitoring: {
    readonly errorRateThreshold: number;
    readonly lowConfidenceThreshold: number;
    readonly driftThreshold: number;
    readonly lowAccuracyThreshold: number;
    readonly minFeedbackPerHour: number;
    readonly monthlyBudgetUsd?: number;
    readonly logRetentionDays: number;
  };
}

/** The retraining pipeline's settings (docs/configuration.md, "pipeline"). */
export interface PipelineConfig {
  readonly canaryPercent: number;
  readonly bakeMinutes: number;
  readonly approvalTimeoutHours: number;
  readonly lowTraffic: 'extend' | 'rollback';
  readonly minCanaryRequests: number;
  readonly maxBakeExtensions: number;
  readonly canary: {
    readonly maxErrorRateIncrease: number;
    readonly maxLatencyIncrease: number;
    readonly maxLowConfidenceIncrease: number;
  };
  readonly gate: {
    readonly primaryFloor?: number;
    readonly segmentFloor?: number;
    readonly maxSegmentRegression: number;
    readonly minSegmentRows: number;
  };
}

export interface NodeGroupConfig {
  readonly instanceTypes: readonly string[];
  readonly minSize: number;
  readonly maxSize: number;
}

interface StageDefaults {
  apiKeyRotationDays: number;
  /** A managed MLflow server runs (and bills) all the time: off where experiments are throwaway. */
  experimentTracking: boolean;
  canaryPercent: number;
  bakeMinutes: number;
  minCanaryRequests: number;
  natGatewaysPerAz: boolean;
  noncurrentVersionDays: number;
  accessLogDays: number;
  logRetentionDays: number;
  minReplicas: number;
  maxReplicas: number;
  nodes: NodeGroupConfig;
  gpuNodes: NodeGroupConfig;
}

/** Stage-aware defaults: prod keeps more and runs highly available; dev is small and cheap. */
export const STAGE_DEFAULTS: Readonly<Record<Stage, Readonly<StageDefaults>>> = {
  dev: {
    experimentTracking: false,
    apiKeyRotationDays: 30,
    canaryPercent: 50,
    bakeMinutes: 15,
    minCanaryRequests: 100,
    natGatewaysPerAz: false,
    noncurrentVersionDays: 7,
    accessLogDays: 30,
    logRetentionDays: 30,
    minReplicas: 1,
    maxReplicas: 3,
    nodes: { instanceTypes: ['m6i.large'], minSize: 2, maxSize: 4 },
    gpuNodes: { instanceTypes: ['g5.xlarge'], minSize: 0, maxSize: 2 },
  },
  staging: {
    experimentTracking: true,
    apiKeyRotationDays: 30,
    canaryPercent: 20,
    bakeMinutes: 60,
    minCanaryRequests: 500,
    natGatewaysPerAz: true,
    noncurrentVersionDays: 30,
    accessLogDays: 90,
    logRetentionDays: 90,
    minReplicas: 2,
    maxReplicas: 6,
    nodes: { instanceTypes: ['m6i.xlarge'], minSize: 2, maxSize: 6 },
    gpuNodes: { instanceTypes: ['g5.xlarge'], minSize: 0, maxSize: 4 },
  },
  prod: {
    experimentTracking: true,
    apiKeyRotationDays: 90,
    canaryPercent: 10,
    bakeMinutes: 240,
    minCanaryRequests: 2000,
    natGatewaysPerAz: true,
    noncurrentVersionDays: 90,
    accessLogDays: 365,
    logRetentionDays: 365,
    minReplicas: 3,
    maxReplicas: 20,
    nodes: { instanceTypes: ['m6i.xlarge'], minSize: 3, maxSize: 12 },
    gpuNodes: { instanceTypes: ['g5.xlarge'], minSize: 0, maxSize: 8 },
  },
};

/** Applies every default in one place and returns a deeply frozen config. */
export function resolveTeamConfig(file: TeamFile, sourceFile: string): TeamConfig {
  const d = STAGE_DEFAULTS[file.stage];
  const throwaway = file.dataLake?.throwaway ?? false;
  const lifecycle = file.dataLake?.lifecycle ?? {};
  const serving = file.serving ?? {};
  const minReplicas = serving.minReplicas ?? d.minReplicas;
  const maxReplicas = serving.maxReplicas ?? Math.max(d.maxReplicas, minReplicas);
  const cpuMillicores = serving.cpuMillicores ?? 1000;
  const memoryMiB = serving.memoryMiB ?? 512;
  const trainingInstanceType = file.training?.instanceType ?? DEFAULT_TRAINING_INSTANCE_TYPE;
  // Room for every replica the autoscaler may run plus one rolling-update surge pod.
  const podsAtPeak = maxReplicas + 1;
  const config: TeamConfig = {
    team: file.team,
    stage: file.stage,
    account: file.account,
    region: file.region,
    availabilityZones: file.availabilityZones,
    costCenter: file.costCenter,
    owners: file.owners,
    alarmEmails: file.alarmEmails,
    sourceFile,
    retainData: !throwaway,
    terminationProtection: file.stage === 'prod',
    network: {
      cidr: file.network?.cidr ?? '10.0.0.0/16',
      natGateways:
        file.network?.natGateways ?? (d.natGatewaysPerAz ? file.availabilityZones.length : 1),
    },
    dataLake: {
      throwaway,
      rawObjectLock: file.dataLake?.rawObjectLock,
      lifecycle: {
        intelligentTieringDays: lifecycle.intelligentTieringDays ?? 30,
        rawGlacierDays: lifecycle.rawGlacierDays,
        noncurrentVersionDays: lifecycle.noncurrentVersionDays ?? d.noncurrentVersionDays,
        abortIncompleteUploadDays: lifecycle.abortIncompleteUploadDays ?? 7,
        accessLogDays: lifecycle.accessLogDays ?? d.accessLogDays,
      },
    },
    training: {
      platform: file.training?.platform ?? 'sagemaker',
      instanceType: trainingInstanceType,
      spot: file.training?.spot ?? file.stage !== 'prod',
      instanceCount: file.training?.instanceCount ?? 1,
      gpusPerInstance:
        file.training?.gpusPerInstance ?? instanceShape(trainingInstanceType)?.gpus ?? 1,
      maxRuntimeHours: file.training?.maxRuntimeHours ?? 24,
      maxVcpus: file.training?.maxVcpus ?? 64,
      retrainSchedule: file.training?.retrainSchedule,
      promotionMargin: file.training?.promotionMargin ?? 0.005,
      objective: file.training?.objective as Objective | undefined,
      approval: file.training?.approval ?? (file.stage === 'prod' ? 'manual' : 'auto'),
      experimentTracking: {
        enabled: file.training?.experimentTracking?.enabled ?? d.experimentTracking,
        size: file.training?.experimentTracking?.size ?? 'Small',
      },
    },
    cluster: {
      endpointPublicCidrs: file.cluster?.endpointPublicCidrs ?? [],
      adminRoleArns: file.cluster?.adminRoleArns ?? [],
      nodes: nodeGroup(d.nodes, file.cluster?.nodes ?? {}),
      gpuNodes: file.cluster?.gpuNodes && nodeGroup(d.gpuNodes, file.cluster.gpuNodes),
    },
    serving: {
      modelName: serving.modelName ?? file.team,
      minReplicas,
      maxReplicas,
      cpuMillicores,
      memoryMiB,
      latencyP99Ms: serving.latencyP99Ms ?? 100,
      captureSampleRate: serving.captureSampleRate ?? 0,
      accessLogSampleRate: serving.accessLogSampleRate ?? 0.01,
      rateLimit: {
        requestsPerSecond: serving.rateLimit?.requestsPerSecond ?? 1000,
        // No single pod should see more of one key than the whole fleet allows.
        perPodRequestsPerSecond:
          serving.rateLimit?.perPodRequestsPerSecond ??
          serving.rateLimit?.requestsPerSecond ??
          1000,
      },
      apiKeyRotationDays: serving.apiKeyRotationDays ?? d.apiKeyRotationDays,
      feedback: {
        windowHours: serving.feedback?.windowHours ?? DEFAULT_FEEDBACK_WINDOW_S / 3600,
        pointInTimeRecovery: serving.feedback?.pointInTimeRecovery ?? file.stage === 'prod',
      },
      quota: {
        cpu: serving.quota?.cpu ?? Math.ceil((podsAtPeak * cpuMillicores) / 1000),
        memoryGiB: serving.quota?.memoryGiB ?? Math.ceil((podsAtPeak * memoryMiB) / 1024),
      },
      ingress: {
        // The schema requires it; the fallback only satisfies the type.
        certificateArn: serving.ingress?.certificateArn ?? '',
        scheme: serving.ingress?.scheme ?? 'internal',
        allowedClientCidrs: serving.ingress?.allowedClientCidrs ?? [],
      },
    },
    pipeline: file.pipeline && resolvePipeline(file.pipeline, d),
    monitoring: {
      errorRateThreshold: file.monitoring?.errorRateThreshold ?? 0.05,
      lowConfidenceThreshold: file.monitoring?.lowConfidenceThreshold ?? 0.5,
      driftThreshold: file.monitoring?.driftThreshold ?? 0.25,
      lowAccuracyThreshold: file.monitoring?.lowAccuracyThreshold ?? 0.8,
      minFeedbackPerHour: file.monitoring?.minFeedbackPerHour ?? 30,
      monthlyBudgetUsd: file.monitoring?.monthlyBudgetUsd,
      logRetentionDays: file.monitoring?.logRetentionDays ?? d.logRetentionDays,
    },
  };
  return deepFreeze(config);
}

function resolvePipeline(
  p: NonNullable<TeamFile['pipeline']>,
  d: Readonly<StageDefaults>,
): PipelineConfig {
  return {
    canaryPercent: p.canaryPercent ?? d.canaryPercent,
    bakeMinutes: p.bakeMinutes ?? d.bakeMinutes,
    approvalTimeoutHours: p.approvalTimeoutHours ?? 72,
    lowTraffic: p.lowTraffic ?? 'extend',
    minCanaryRequests: p.minCanaryRequests ?? d.minCanaryRequests,
    maxBakeExtensions: p.maxBakeExtensions ?? 2,
    canary: {
      maxErrorRateIncrease: p.canary?.maxErrorRateIncrease ?? 0.01,
      maxLatencyIncrease: p.canary?.maxLatencyIncrease ?? 0.2,
      maxLowConfidenceIncrease: p.canary?.maxLowConfidenceIncrease ?? 0.05,
    },
    gate: {
      primaryFloor: p.gate?.primaryFloor,
      segmentFloor: p.gate?.segmentFloor,
      maxSegmentRegression: p.gate?.maxSegmentRegression ?? 0.02,
      minSegmentRows: p.gate?.minSegmentRows ?? 30,
    },
  };
}

/** A node group's stage defaults overlaid with the file; a raised minimum lifts the maximum. */
function nodeGroup(
  defaults: NodeGroupConfig,
  file: { instanceTypes?: string[]; minSize?: number; maxSize?: number },
): NodeGroupConfig {
  const minSize = file.minSize ?? defaults.minSize;
  return {
    instanceTypes: file.instanceTypes ?? defaults.instanceTypes,
    minSize,
    maxSize: file.maxSize ?? Math.max(defaults.maxSize, minSize),
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
