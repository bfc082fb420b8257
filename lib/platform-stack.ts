import type { Construct } from 'constructs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { PlatformNetwork } from '../constructs/network';
import { ServingCluster, type NodeGroupSpec } from '../constructs/serving';
import type { NodeGroupConfig, PlatformConfig } from './config';
import { MlStack } from './ml-stack';
import { clusterName, platformStackName, platformTags } from './naming';

export interface PlatformStackProps {
  readonly config: PlatformConfig;
}

/** Shared per account and region: the network and the EKS cluster every team runs in. */
export class PlatformStack extends MlStack {
  readonly vpc: ec2.IVpc;
  /** The EKS cluster that serves every team of this account and region. */
  readonly cluster: eks.Cluster;
  /** Pod Identity associations of team stacks depend on the agent. */
  readonly servingCluster: ServingCluster;

  constructor(scope: Construct, props: PlatformStackProps) {
    const { config } = props;
    super(scope, {
      name: platformStackName(config),
      account: config.account,
      region: config.region,
      availabilityZones: config.availabilityZones,
      terminationProtection: config.terminationProtection,
      // No team names here: adding a team must not change the shared template.
      description: `ML platform shared network and EKS cluster for ${config.account} ${config.region}`,
      tags: platformTags(),
    });
    const network = new PlatformNetwork(this, 'Network', {
      availabilityZones: config.availabilityZones,
      cidr: config.cidr,
      natGateways: config.natGateways,
      flowLogRetention: toRetentionDays(config.logRetentionDays),
    });
    this.vpc = network.vpc;

    const { cluster } = config;
    this.servingCluster = new ServingCluster(this, 'Serving', {
      vpc: this.vpc,
      clusterName: clusterName(),
      endpointPublicCidrs: cluster.endpointPublicCidrs,
      adminRoles: cluster.adminRoleArns.map((arn, i) =>
        iam.Role.fromRoleArn(this, `AdminRole${i}`, arn, { mutable: false }),
      ),
      nodes: nodeGroupSpec(cluster.nodes),
      gpuNodes: cluster.gpuNodes && nodeGroupSpec(cluster.gpuNodes),
      deletionProtection: config.terminationProtection,
      controlPlaneLogRetention: toRetentionDays(config.logRetentionDays),
      logKey: network.logKey,
    });
    this.cluster = this.servingCluster.cluster;
  }
}

function nodeGroupSpec(c: NodeGroupConfig): NodeGroupSpec {
  return { ...c, instanceTypes: c.instanceTypes.map((t) => new ec2.InstanceType(t)) };
}

/** CloudWatch accepts only certain retention values: round up to the next allowed one. */
export function toRetentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is number => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return (allowed.find((v) => v >= days) ?? logs.RetentionDays.INFINITE) as logs.RetentionDays;
}
