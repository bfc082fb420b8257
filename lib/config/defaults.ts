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
    readonly maxRuntimeHours: number;
    readonly maxVcpus: number;
    readonly retrainSchedule?: string;
    readonly promotionMargin: number;
  };
  readonly serving: {
    readonly modelName: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly cpuMillicores: number;
    readonly memoryMiB: number;
    readonly latencyP99Ms: number;
  };
  readonly monitoring: {
    readonly errorRateThreshold: number;
    readonly lowConfidenceThreshold: number;
    readonly driftThreshold: number;
    readonly monthlyBudgetUsd?: number;
    readonly logRetentionDays: number;
  };
}

interface StageDefaults {
  natGatewaysPerAz: boolean;
  noncurrentVersionDays: number;
  accessLogDays: number;
  logRetentionDays: number;
  minReplicas: number;
  maxReplicas: number;
}

/** Stage-aware defaults: prod keeps more and runs highly available; dev is small and cheap. */
export const STAGE_DEFAULTS: Readonly<Record<Stage, Readonly<StageDefaults>>> = {
  dev: {
    natGatewaysPerAz: false,
    noncurrentVersionDays: 7,
    accessLogDays: 30,
    logRetentionDays: 30,
    minReplicas: 1,
    maxReplicas: 3,
  },
  staging: {
    natGatewaysPerAz: true,
    noncurrentVersionDays: 30,
    accessLogDays: 90,
    logRetentionDays: 90,
    minReplicas: 2,
    maxReplicas: 6,
  },
  prod: {
    natGatewaysPerAz: true,
    noncurrentVersionDays: 90,
    accessLogDays: 365,
    logRetentionDays: 365,
    minReplicas: 3,
    maxReplicas: 20,
  },
};

/** Applies every default in one place and returns a deeply frozen config. */
export function resolveTeamConfig(file: TeamFile, sourceFile: string): TeamConfig {
  const d = STAGE_DEFAULTS[file.stage];
  const throwaway = file.dataLake?.throwaway ?? false;
  const lifecycle = file.dataLake?.lifecycle ?? {};
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
      instanceType: file.training?.instanceType ?? 'ml.g5.xlarge',
      spot: file.training?.spot ?? file.stage !== 'prod',
      maxRuntimeHours: file.training?.maxRuntimeHours ?? 24,
      maxVcpus: file.training?.maxVcpus ?? 64,
      retrainSchedule: file.training?.retrainSchedule,
      promotionMargin: file.training?.promotionMargin ?? 0.005,
    },
    serving: {
      modelName: file.serving?.modelName ?? file.team,
      minReplicas: file.serving?.minReplicas ?? d.minReplicas,
      maxReplicas:
        file.serving?.maxReplicas ?? Math.max(d.maxReplicas, file.serving?.minReplicas ?? 0),
      cpuMillicores: file.serving?.cpuMillicores ?? 1000,
      memoryMiB: file.serving?.memoryMiB ?? 512,
      latencyP99Ms: file.serving?.latencyP99Ms ?? 100,
    },
    monitoring: {
      errorRateThreshold: file.monitoring?.errorRateThreshold ?? 0.05,
      lowConfidenceThreshold: file.monitoring?.lowConfidenceThreshold ?? 0.5,
      driftThreshold: file.monitoring?.driftThreshold ?? 0.25,
      monthlyBudgetUsd: file.monitoring?.monthlyBudgetUsd,
      logRetentionDays: file.monitoring?.logRetentionDays ?? d.logRetentionDays,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
