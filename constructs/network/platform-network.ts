import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { allowLogsToUseKey } from '../private/logs-key';

/** Interface endpoints that training (SageMaker, Batch) and serving (EKS pods) need. */
export const INTERFACE_ENDPOINTS = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  SageMakerApi: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  SageMakerRuntime: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
} as const;

export interface PlatformNetworkProps {
  /** Availability zones, named explicitly so synth never looks them up. */
  readonly availabilityZones: readonly string[];
  /**
   * VPC CIDR.
   * @default '10.0.0.0/16'
   */
  readonly cidr?: string;
  /**
   * NAT gateways: one keeps dev cheap, one per AZ keeps egress up when an AZ fails.
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * Days VPC flow logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * Key that encrypts the flow log group.
   * @default - a new key with rotation
   */
  readonly logKey?: kms.IKey;
}

/**
 * The shared network of one account and region: public subnets only for NAT gateways and load
 * balancers, private subnets for every workload, flow logs of all traffic, a gateway endpoint
 * for S3 and interface endpoints so AWS API traffic never leaves the VPC.
 */
export class PlatformNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly logKey: kms.IKey;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps) {
    super(scope, id);
    if (props.availabilityZones.length < 2) {
      throw new Error(
        `${this.node.path}: availabilityZones must list at least 2 zones, got ${props.availabilityZones.length}`,
      );
    }
    const natGateways = props.natGateways ?? 1;
    if (natGateways < 1 || natGateways > props.availabilityZones.length) {
      throw new Error(
        `${this.node.path}: natGateways must be between 1 and the number of availability zones (${props.availabilityZones.length}), got ${natGateways}`,
      );
    }

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.0.0.0/16'),
      availabilityZones: [...props.availabilityZones],
      natGateways,
      subnetConfiguration: [
        // NAT gateways and load balancers get their addresses explicitly: no instance launched
        // into a public subnet gets a public IP by accident.
        {
          name: 'public',
          subnetType: ec2.SubnetType.PUBLIC,
          cidrMask: 24,
          mapPublicIpOnLaunch: false,
        },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 19 },
      ],
      restrictDefaultSecurityGroup: true,
    });
    Validations.of(this.vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Availability zones are named in the team config on purpose: synth stays offline and deterministic (no AZ lookups), and a subnet never moves when AWS adds an AZ.',
    });

    this.logKey =
      props.logKey ??
      new kms.Key(this, 'LogKey', {
        description: 'Encrypts the platform network flow logs',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    // CloudWatch Logs encrypts with the key on behalf of log groups in this account only.
    const { region, account, partition } = Stack.of(this);
    allowLogsToUseKey(this, this.logKey, `arn:${partition}:logs:${region}:${account}:*`);
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: this.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    // The inference pods' prediction table: a gateway endpoint is free, and at fleet request
    // rates the same traffic through NAT would cost per GB.
    this.vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    // One security group for all interface endpoints: HTTPS from inside the VPC only.
    const cidr = props.cidr ?? '10.0.0.0/16';
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'HTTPS from inside the VPC to the AWS API interface endpoints',
      allowAllOutbound: false,
    });
    endpointSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [endpointSg],
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      });
    }
  }
}
