import { Duration, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { DataLake } from '../data-lake';
import { acknowledge } from '../private/acknowledge';
import type { Objective } from '../../serving/src/bundle/quality';
import { allowLogsToUseKey } from '../private/logs-key';
import {
  encodeObjective,
  TRAINING_PARAMETERS,
  type ApprovalMode,
  type TrackingServerSize,
  type TrainingParameter,
} from './contract';
import { ExperimentTracking } from './experiment-tracking';

/** A trainer image in ECR, e.g. a `DockerImageAsset` of `training/reference/Dockerfile`. */
export interface TrainerImage {
  readonly repository: ecr.IRepository;
  readonly imageTag: string;
}

/** Where training reads and writes in the data lake (zone + key prefix). */
export const TRAINING_PREFIXES = {
  /** Data sets the launcher uploads, in the `features` zone. */
  data: 'training',
  /** `model.tar.gz` of each job, in the `models` zone. */
  output: 'training',
  /** Spot checkpoints of each job, in the `models` zone. */
  checkpoints: 'checkpoints',
} as const;

export interface TrainingInfraProps {
  /** The team's data lake: training reads `features`, writes `models`. */
  readonly dataLake: DataLake;
  /** VPC whose private subnets run training (with S3, ECR, Logs and SageMaker endpoints). */
  readonly vpc: ec2.IVpc;
  /** The trainer image (honours the SageMaker training contract). */
  readonly image: TrainerImage;
  /**
   * SSM path under which the launcher finds everything (docs/training-contract.md), e.g.
   * `/ml-platform/fraud/prod/training`.
   */
  readonly parameterPath: string;
  /** Name of the model package group of the model registry. */
  readonly modelPackageGroupName: string;
  /** The model the team serves: its folder in the model store (`models/<modelName>`). */
  readonly modelName: string;
  /**
   * Whether `npm run model -- publish` registers a model package as `PendingManualApproval`
   * (a person approves it, which promotes it) or as `Approved`.
   * @default 'manual'
   */
  readonly approval?: ApprovalMode;
  /**
   * SageMaker GPU instance type; the Batch compute environment uses the same EC2 type.
   * @default 'ml.g5.xlarge'
   */
  readonly instanceType?: string;
  /**
   * Managed spot capacity (with checkpoints) for SageMaker and Batch.
   * @default true
   */
  readonly spot?: boolean;
  /**
   * Hard limit on one job's run time.
   * @default Duration.hours(24)
   */
  readonly maxRuntime?: Duration;
  /**
   * Maximum vCPUs of the Batch GPU compute environment (it scales to 0 when idle).
   * @default 64
   */
  readonly maxVcpus?: number;
  /**
   * Days training logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Name of the log group of the Batch training containers (beside the team's serving log
   * group, `/ml-platform/<team>/<stage>/serving`).
   * @default - `parameterPath`, e.g. `/ml-platform/fraud/prod/training`
   */
  readonly logGroupName?: string;
  /**
   * The team's success metric and target, published as the `objective` parameter for the
   * launcher to pass to the trainer.
   * @default - no parameter: the trainer's default objective (f1, no target)
   */
  readonly objective?: Objective;
  /**
   * A SageMaker managed MLflow tracking server the training roles (only) may log to, with its
   * artifacts under `models/mlflow/`; its ARN is the `mlflow/tracking-server-arn` parameter.
   * @default - no tracking server
   */
  readonly experimentTracking?: {
    readonly trackingServerName: string;
    /** @default 'Small' */
    readonly size?: TrackingServerSize;
  };
}

/**
 * GPU training for one team: a SageMaker execution role, an AWS Batch GPU queue for EC2
 * training, a model registry group, and the SSM parameters that the launcher reads
 * (docs/training-contract.md). Jobs run in private subnets, read only `features/training/*`,
 * write only `models/training/*` and `models/checkpoints/*`, and encrypt with the lake's key.
 */
export class TrainingInfra extends Construct {
  /** The role SageMaker training jobs assume. */
  readonly sageMakerRole: iam.Role;
  /** The role Batch training containers assume. */
  readonly batchJobRole: iam.Role;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly securityGroup: ec2.SecurityGroup;
  readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  /** The team's MLflow tracking server, when `experimentTracking` is set. */
  readonly experimentTracking?: ExperimentTracking;

  constructor(scope: Construct, id: string, props: TrainingInfraProps) {
    super(scope, id);
    const instanceType = props.instanceType ?? 'ml.g5.xlarge';
    if (!/^ml\.[a-z0-9]+\.[a-z0-9]+$/.test(instanceType)) {
      throw new Error(
        `${this.node.path}: instanceType must be a SageMaker instance type like "ml.g5.xlarge", got "${instanceType}"`,
      );
    }
    const spot = props.spot ?? true;
    const maxRuntime = props.maxRuntime ?? Duration.hours(24);
    const { dataLake, vpc } = props;
    const { region, account, partition } = Stack.of(this);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Training jobs: no inbound; HTTPS out to AWS endpoints only',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');

    const grantData = (role: iam.IRole) => {
      dataLake.grantRead('features', role, `${TRAINING_PREFIXES.data}/*`);
      dataLake.grantReadWrite('models', role, `${TRAINING_PREFIXES.output}/*`);
      dataLake.grantReadWrite('models', role, `${TRAINING_PREFIXES.checkpoints}/*`);
      props.image.repository.grantPull(role);
      dataLake.acknowledgeGrants(
        role,
        [
          { zone: 'features', prefix: TRAINING_PREFIXES.data },
          { zone: 'models', prefix: TRAINING_PREFIXES.output },
          { zone: 'models', prefix: TRAINING_PREFIXES.checkpoints },
        ],
        `Least privilege by prefix: training reads only ${TRAINING_PREFIXES.data}/* of the team's features bucket and writes only ${TRAINING_PREFIXES.output}/* and ${TRAINING_PREFIXES.checkpoints}/* of its models bucket (object wildcards below those prefixes, and the S3/KMS action families of the grants on the team's own bucket and key).`,
      );
    };

    this.sageMakerRole = new iam.Role(this, 'SageMakerRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Assumed by the SageMaker training jobs',
    });
    grantData(this.sageMakerRole);
    const trainingLogs = `arn:${partition}:logs:${region}:${account}:log-group:/aws/sagemaker/TrainingJobs:*`;
    this.sageMakerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [trainingLogs],
      }),
    );
    // SageMaker attaches each job to the VPC with an elastic network interface it creates in
    // the training subnets with the training security group, shares with itself
    // (CreateNetworkInterfacePermission) and deletes at the end. The interfaces do not exist
    // yet, so they are matched by VPC and subnet; the subnets and the group are exact ARNs.
    const trainingSubnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const ec2Arn = (resource: string, resourceName: string) =>
      `arn:${partition}:ec2:${region}:${account}:${resource}/${resourceName}`;
    const subnetArns = trainingSubnets.subnetIds.map((id) => ec2Arn('subnet', id));
    const networkInterfaces = ec2Arn('network-interface', '*');
    this.sageMakerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingEnisInTrainingSubnets',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:CreateNetworkInterfacePermission',
          'ec2:DeleteNetworkInterface',
        ],
        resources: [networkInterfaces],
        conditions: { ArnEquals: { 'ec2:Vpc': vpc.vpcArn, 'ec2:Subnet': subnetArns } },
      }),
    );
    this.sageMakerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingEniPlacement',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [...subnetArns, ec2Arn('security-group', this.securityGroup.securityGroupId)],
      }),
    );
    // These take no resource: Describe* reads, and DeleteNetworkInterfacePermission names only
    // a permission id.
    const vpcStatement = new iam.PolicyStatement({
      sid: 'TrainingVpcLookups',
      actions: [
        'ec2:DeleteNetworkInterfacePermission',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeVpcs',
        'ec2:DescribeDhcpOptions',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      resources: ['*'],
    });
    const metricsStatement = new iam.PolicyStatement({
      sid: 'TrainingMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' } },
    });
    this.sageMakerRole.addToPolicy(vpcStatement);
    this.sageMakerRole.addToPolicy(metricsStatement);
    acknowledge(
      this.sageMakerRole,
      'On "*" only actions that support no resource-level permission: the EC2 Describe calls and DeleteNetworkInterfacePermission (named by permission id) SageMaker needs to attach jobs to the VPC, and ecr:GetAuthorizationToken; PutMetricData is limited to the /aws/sagemaker/TrainingJobs namespace by condition; log writes are limited to the SageMaker training log group; network interfaces do not exist before a job starts, so they are matched as network-interface/* under conditions on the VPC and the training subnets.',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${trainingLogs}]`,
      `AwsSolutions-IAM5[Resource::${networkInterfaces}]`,
    );

    this.batchJobRole = new iam.Role(this, 'BatchJobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Assumed by the AWS Batch training containers',
    });
    grantData(this.batchJobRole);
    acknowledge(
      this.batchJobRole,
      'Only ecr:GetAuthorizationToken, which supports no resource-level permission.',
      'AwsSolutions-IAM5[Resource::*]',
    );

    const computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'GpuCompute', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      instanceTypes: [new ec2.InstanceType(instanceType.replace(/^ml\./, ''))],
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      spot,
      allocationStrategy: spot
        ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
        : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      minvCpus: 0,
      maxvCpus: props.maxVcpus ?? 64,
      updateToLatestImageVersion: true,
    });
    acknowledge(
      computeEnvironment,
      'The Batch ECS instance role uses AmazonEC2ContainerServiceforEC2Role, the AWS-maintained minimum for the ECS agent on GPU hosts (register, pull images, ship logs); a hand-written copy would drift from what the agent needs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
    );

    this.jobQueue = new batch.JobQueue(this, 'GpuQueue', {
      computeEnvironments: [{ computeEnvironment, order: 1 }],
    });

    // Encrypted with the data lake key: the trainer's output describes the data it reads. The
    // key lets CloudWatch Logs use it for this one log group only.
    const logGroupName = props.logGroupName ?? props.parameterPath;
    allowLogsToUseKey(
      this,
      dataLake.encryptionKey,
      `arn:${partition}:logs:${region}:${account}:log-group:${logGroupName}`,
      'AllowTrainingLogGroup',
    );
    const jobLogs = new logs.LogGroup(this, 'BatchLogs', {
      logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: dataLake.encryptionKey,
    });
    const container = new batch.EcsEc2ContainerDefinition(this, 'Trainer', {
      image: ecs.ContainerImage.fromEcrRepository(props.image.repository, props.image.imageTag),
      gpu: 1,
      cpu: 4,
      memory: Size.gibibytes(14),
      jobRole: this.batchJobRole,
      readonlyRootFilesystem: false,
      logging: ecs.LogDriver.awsLogs({ logGroup: jobLogs, streamPrefix: 'trainer' }),
    });
    acknowledge(
      container,
      'The ECS execution role created by aws-cdk-lib pulls the trainer image: ecr:GetAuthorizationToken supports no resource-level permission.',
      'AwsSolutions-IAM5[Resource::*]',
    );
    this.jobDefinition = new batch.EcsJobDefinition(this, 'GpuJob', {
      container,
      timeout: maxRuntime,
      retryAttempts: 3,
      retryStrategies: [
        batch.RetryStrategy.of(
          batch.Action.RETRY,
          batch.Reason.custom({ onStatusReason: 'Host EC2*' }),
        ),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
      propagateTags: true,
    });

    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelRegistry', {
      modelPackageGroupName: props.modelPackageGroupName,
      modelPackageGroupDescription: `Model registry of ${props.parameterPath}`,
    });

    if (props.experimentTracking) {
      this.experimentTracking = new ExperimentTracking(this, 'ExperimentTracking', {
        dataLake,
        ...props.experimentTracking,
      });
      this.experimentTracking.grantLogging(this.sageMakerRole);
      this.experimentTracking.grantLogging(this.batchJobRole);
    }

    const models = dataLake.bucket('models').bucketName;
    const features = dataLake.bucket('features').bucketName;
    const parameters: Partial<Record<TrainingParameter, string>> = {
      'role-arn': this.sageMakerRole.roleArn,
      'image-uri': props.image.repository.repositoryUriForTag(props.image.imageTag),
      'instance-type': instanceType,
      'data-s3-uri': `s3://${features}/${TRAINING_PREFIXES.data}`,
      'output-s3-uri': `s3://${models}/${TRAINING_PREFIXES.output}`,
      'checkpoint-s3-uri': `s3://${models}/${TRAINING_PREFIXES.checkpoints}`,
      'kms-key-arn': dataLake.encryptionKey.keyArn,
      'batch/job-queue': this.jobQueue.jobQueueArn,
      'batch/job-definition': this.jobDefinition.jobDefinitionArn,
      'max-runtime-seconds': String(maxRuntime.toSeconds()),
      spot: String(spot),
      'model-package-group': props.modelPackageGroupName,
      ...(props.objective ? { objective: encodeObjective(props.objective) } : {}),
      'model-name': props.modelName,
      approval: props.approval ?? 'manual',
      ...(this.experimentTracking
        ? { 'mlflow/tracking-server-arn': this.experimentTracking.trackingServerArn }
        : {}),
    };
    for (const [name, value] of Object.entries(parameters) as [TrainingParameter, string][]) {
      new ssm.StringParameter(this, `Param-${name}`, {
        parameterName: `${props.parameterPath}/${name}`,
        stringValue: value,
        description: TRAINING_PARAMETERS[name],
      });
    }
    const lists: Partial<Record<TrainingParameter, string[]>> = {
      'subnet-ids': trainingSubnets.subnetIds,
      'security-group-ids': [this.securityGroup.securityGroupId],
    };
    for (const [name, values] of Object.entries(lists) as [TrainingParameter, string[]][]) {
      new ssm.StringListParameter(this, `Param-${name}`, {
        parameterName: `${props.parameterPath}/${name}`,
        stringListValue: values,
        description: TRAINING_PARAMETERS[name],
      });
    }
  }
}
