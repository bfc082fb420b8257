import type { Construct } from 'constructs';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { PlatformNetwork } from '../constructs/network';
import type { PlatformConfig } from './config';
import { MlStack } from './ml-stack';
import { platformStackName, platformTags } from './naming';

export interface PlatformStackProps {
  readonly config: PlatformConfig;
}

/** Shared per account and region: the network (and the EKS cluster) every team runs in. */
export class PlatformStack extends MlStack {
  readonly vpc: ec2.IVpc;

  constructor(scope: Construct, props: PlatformStackProps) {
    const { config } = props;
    const name = platformStackName(config);
    super(scope, name, {
      stackName: name,
      env: { account: config.account, region: config.region },
      availabilityZones: config.availabilityZones,
      terminationProtection: config.terminationProtection,
      description: `ML platform shared network for ${config.account} ${config.region} (teams: ${config.teams.map((t) => `${t.team}/${t.stage}`).join(', ')})`,
      tags: platformTags(),
    });
    const network = new PlatformNetwork(this, 'Network', {
      availabilityZones: config.availabilityZones,
      cidr: config.cidr,
      natGateways: config.natGateways,
      flowLogRetention: toRetentionDays(config.logRetentionDays),
    });
    this.vpc = network.vpc;
  }
}

/** CloudWatch accepts only certain retention values: round up to the next allowed one. */
export function toRetentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is number => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return (allowed.find((v) => v >= days) ?? logs.RetentionDays.INFINITE) as logs.RetentionDays;
}
