import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cdk8s from 'cdk8s';
import type { Construct } from 'constructs';
import { DATA_ZONES, DataLake } from '../constructs/data-lake';
import { ModelApproval, RetrainingPipeline } from '../constructs/lifecycle';
import { PodIdentity, ServingChart } from '../constructs/k8s';
import { TeamMonitoring } from '../constructs/monitoring';
import { RateLimitAcl, TeamServing } from '../constructs/serving';
import { TrainingInfra } from '../constructs/training';
import { STATE_MACHINE_PARAMETER } from '../training/launcher/pipeline/contract';
import type { TeamConfig } from './config';
import { MlStack } from './ml-stack';
import {
  clusterName,
  dataLakeParameter,
  teamNamespace,
  teamResourcePrefix,
  teamStackName,
  teamTags,
  trainingJobNamePrefix,
  trainingParameterPath,
} from './naming';
import { toRetentionDays, type PlatformStack } from './platform-stack';

export interface TeamStackProps {
  readonly config: TeamConfig;
  /** The shared platform of the team's account and region. */
  readonly platform: PlatformStack;
  /** Folder with the inference service's Dockerfile (the repository's `serving/`). */
  readonly servingImageDirectory: string;
  /** Folder with the trainer's Dockerfile (the repository's `training/reference/`). */
  readonly trainerImageDirectory: string;
}

/** Service account of the inference pods (the chart's name for it). */
const SERVING_SERVICE_ACCOUNT = 'inference';

/** Everything one team needs for one stage: data lake, training, registry, serving, alarms. */
export class TeamStack extends MlStack {
  readonly dataLake: DataLake;
  readonly training: TrainingInfra;
  readonly serving: TeamServing;
  readonly monitoring: TeamMonitoring;
  readonly modelApproval: ModelApproval;
  /** The retraining loop; undefined when the team file has no `pipeline` section. */
  readonly pipeline?: RetrainingPipeline;

  constructor(scope: Construct, props: TeamStackProps) {
    const { config } = props;
    super(scope, {
      name: teamStackName(config),
      account: config.account,
      region: config.region,
      availabilityZones: config.availabilityZones,
      terminationProtection: config.terminationProtection,
      description: `ML platform environment of team ${config.team}, stage ${config.stage} (from ${config.sourceFile.split(/[\\/]/).join('/')})`,
      tags: teamTags(config),
    });
    this.addStackDependency(props.platform);
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.dataLake = new DataLake(this, 'DataLake', {
      removalPolicy,
      rawObjectLock: config.dataLake.rawObjectLock,
      lifecycle: config.dataLake.lifecycle,
    });

    // Tools (the training launcher, the retraining pipeline) find the team's resources
    // through these parameters; their names are a contract (docs/training-contract.md).
    for (const zone of DATA_ZONES) {
      const bucket = this.dataLake.bucket(zone);
      new ssm.StringParameter(this, `Param-${zone}-bucket`, {
        parameterName: dataLakeParameter(config, `${zone}-bucket`),
        stringValue: bucket.bucketName,
        description: `${zone} zone bucket of the ${config.team}/${config.stage} data lake`,
      });
      new CfnOutput(this, `${zone}Bucket`, { value: bucket.bucketName });
    }
    new ssm.StringParameter(this, 'Param-data-lake-key', {
      parameterName: dataLakeParameter(config, 'kms-key-arn'),
      stringValue: this.dataLake.encryptionKey.keyArn,
      description: `KMS key of the ${config.team}/${config.stage} data lake`,
    });

    // Training: the launcher finds all of it through the training contract's parameters.
    const trainerImage = new ecrAssets.DockerImageAsset(this, 'TrainerImage', {
      directory: props.trainerImageDirectory,
      platform: ecrAssets.Platform.LINUX_AMD64,
      // The SageMaker PyTorch training image of the stack's region (needs an ECR login to
      // AWS's deep learning containers account before `cdk deploy`; see training/README.md).
      buildArgs: { BASE_IMAGE: trainingBaseImage(config.region) },
    });
    const modelPackageGroupName = `${teamResourcePrefix(config)}-${config.serving.modelName}`;
    this.training = new TrainingInfra(this, 'Training', {
      dataLake: this.dataLake,
      vpc: props.platform.vpc,
      image: trainerImage,
      parameterPath: trainingParameterPath(config),
      modelPackageGroupName,
      modelName: config.serving.modelName,
      approval: config.training.approval,
      instanceType: config.training.instanceType,
      spot: config.training.spot,
      instanceCount: config.training.instanceCount,
      gpusPerInstance: config.training.gpusPerInstance,
      maxRuntime: Duration.hours(config.training.maxRuntimeHours),
      maxVcpus: config.training.maxVcpus,
      logRetention: toRetentionDays(config.monitoring.logRetentionDays),
      objective: config.training.objective,
      experimentTracking: config.training.experimentTracking.enabled
        ? {
            trackingServerName: teamResourcePrefix(config),
            size: config.training.experimentTracking.size,
          }
        : undefined,
    });

    // Serving: the AWS side here (pod role, API keys, image), the Kubernetes side from the
    // chart, applied to the platform's cluster from this stack.
    const namespace = teamNamespace(config);
    const { serving } = config;
    this.serving = new TeamServing(this, 'Serving', {
      cluster: props.platform.cluster,
      podIdentityAgent: props.platform.servingCluster.podIdentityAgent,
      namespace,
      serviceAccountName: SERVING_SERVICE_ACCOUNT,
      dataLake: this.dataLake,
      imageDirectory: props.servingImageDirectory,
      removalPolicy,
      apiKeyRotation: Duration.days(serving.apiKeyRotationDays),
      logRetention: toRetentionDays(config.monitoring.logRetentionDays),
      predictionTableRecovery: serving.feedback.pointInTimeRecovery,
    });
    const rateLimit = new RateLimitAcl(this, 'ServingRateLimit', {
      name: `${teamResourcePrefix(config)}-serving`,
      requestsPerSecond: serving.rateLimit.requestsPerSecond,
    });
    const chart = new ServingChart(new cdk8s.App(), 'Serving', {
      team: config.team,
      resolveToken: (value) => this.resolve(value),
      stage: config.stage,
      namespace,
      image: this.serving.image.imageUri,
      modelStore: this.serving.modelStore,
      modelName: serving.modelName,
      podIdentity: PodIdentity.eksPodIdentity(),
      apiKeysSecret: this.serving.apiKeys.secretArn,
      certificateArn: serving.ingress.certificateArn,
      internetFacing: serving.ingress.scheme === 'internet-facing',
      allowedClientCidrs: serving.ingress.allowedClientCidrs,
      // The ALB's interfaces live in the VPC: only they may reach the pods' port.
      loadBalancerSourceCidrs: [config.network.cidr],
      region: config.region,
      minReplicas: serving.minReplicas,
      maxReplicas: serving.maxReplicas,
      cpuMillicores: serving.cpuMillicores,
      memoryMiB: serving.memoryMiB,
      capture: { uri: this.serving.feedbackUri, sampleRate: serving.captureSampleRate },
      feedback: {
        predictionTable: this.serving.predictionTable.tableName,
        windowHours: serving.feedback.windowHours,
      },
      // A request slower than the p99 target is worth a line even when not sampled.
      accessLog: { sampleRate: serving.accessLogSampleRate, slowRequestMs: serving.latencyP99Ms },
      webAclArn: rateLimit.webAclArn,
      perPodRateLimit: serving.rateLimit.perPodRequestsPerSecond,
      quota: {
        cpuMillicores: Math.round(serving.quota.cpu * 1000),
        memoryMiB: Math.round(serving.quota.memoryGiB * 1024),
      },
    });
    this.serving.addChart('Manifests', chart);
    new CfnOutput(this, 'ServingNamespace', { value: namespace });

    const { monitoring } = config;
    this.monitoring = new TeamMonitoring(this, 'Monitoring', {
      team: config.team,
      stage: config.stage,
      alarmEmails: config.alarmEmails,
      trainingJobNamePrefix: trainingJobNamePrefix(config),
      trainingJobQueue: this.training.jobQueue,
      service: {
        modelName: serving.modelName,
        // A literal, not the cluster's token: it is a metric dimension value.
        clusterName: clusterName(),
        namespace: chart.namespaceName,
        serviceName: chart.serviceName,
      },
      thresholds: {
        errorRate: monitoring.errorRateThreshold,
        latencyP99Ms: serving.latencyP99Ms,
        lowConfidence: monitoring.lowConfidenceThreshold,
        driftPsi: monitoring.driftThreshold,
        lowAccuracy: monitoring.lowAccuracyThreshold,
        minFeedbackPerHour: monitoring.minFeedbackPerHour,
      },
      monthlyBudgetUsd: monitoring.monthlyBudgetUsd,
      logRetention: toRetentionDays(monitoring.logRetentionDays),
      removalPolicy,
    });

    // Registry approval drives rollout: approving a package promotes it (npm run model's code).
    this.modelApproval = new ModelApproval(this, 'ModelApproval', {
      dataLake: this.dataLake,
      modelName: serving.modelName,
      modelPackageGroupName,
      functionName: `${teamResourcePrefix(config)}-model-approval`,
      logGroupName: `/ml-platform/${config.team}/${config.stage}/model-approval`,
      logEncryptionKey: this.monitoring.encryptionKey,
      logRetention: toRetentionDays(monitoring.logRetentionDays),
      removalPolicy,
    });

    const { pipeline } = config;
    if (pipeline) {
      this.pipeline = new RetrainingPipeline(this, 'Retraining', {
        team: config.team,
        stage: config.stage,
        resourcePrefix: teamResourcePrefix(config),
        dataLake: this.dataLake,
        modelName: serving.modelName,
        modelPackageGroupName,
        approval: config.training.approval,
        trainingParameterPath: trainingParameterPath(config),
        trainingRole: this.training.sageMakerRole,
        trainingJobNamePrefix: trainingJobNamePrefix(config),
        topic: this.monitoring.topic,
        encryptionKey: this.monitoring.encryptionKey,
        policy: {
          promotionMargin: config.training.promotionMargin,
          ...pipeline.gate,
          canaryPercent: pipeline.canaryPercent,
          bakeMinutes: pipeline.bakeMinutes,
          lowTraffic: pipeline.lowTraffic,
          maxBakeExtensions: pipeline.maxBakeExtensions,
          minCanaryRequests: pipeline.minCanaryRequests,
          ...pipeline.canary,
          errorRateThreshold: monitoring.errorRateThreshold,
          latencyP99Ms: serving.latencyP99Ms,
        },
        approvalTimeout: Duration.hours(pipeline.approvalTimeoutHours),
        // Spot jobs may wait as long again as they run (the training contract's default).
        maxTrainingTime: Duration.hours(
          config.training.maxRuntimeHours * (config.training.spot ? 2 : 1),
        ),
        schedule: config.training.retrainSchedule,
        driftAlarm: this.monitoring.dataDriftAlarm,
        logGroupPrefix: `/ml-platform/${config.team}/${config.stage}`,
        logRetention: toRetentionDays(monitoring.logRetentionDays),
        removalPolicy,
      });
      new ssm.StringParameter(this, 'Param-pipeline', {
        parameterName: `${trainingParameterPath(config)}/${STATE_MACHINE_PARAMETER}`,
        stringValue: this.pipeline.stateMachine.stateMachineArn,
        description: `Retraining pipeline (Step Functions) of ${config.team}/${config.stage}: npm run retrain starts it`,
      });
      this.monitoring.addPipeline(this.pipeline.stateMachine);
    }
  }
}

/**
 * The SageMaker PyTorch training image (deep learning container) of a region: the trainer
 * image's base, pinned with the rest of the stack.
 */
export function trainingBaseImage(region: string): string {
  return `763104351884.dkr.ecr.${region}.amazonaws.com/pytorch-training:2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker`;
}
