import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { DATA_ZONES, DataLake } from '../constructs/data-lake';
import type { TeamConfig } from './config';
import { MlStack } from './ml-stack';
import { teamParameterPath, teamStackName, teamTags } from './naming';
import type { PlatformStack } from './platform-stack';

export interface TeamStackProps {
  readonly config: TeamConfig;
  /** The shared platform of the team's account and region. */
  readonly platform: PlatformStack;
}

/** Everything one team needs for one stage: data lake, training, registry, serving, alarms. */
export class TeamStack extends MlStack {
  readonly dataLake: DataLake;

  constructor(scope: Construct, props: TeamStackProps) {
    const { config } = props;
    const name = teamStackName(config);
    super(scope, name, {
      stackName: name,
      env: { account: config.account, region: config.region },
      availabilityZones: config.availabilityZones,
      terminationProtection: config.terminationProtection,
      description: `ML platform environment of team ${config.team}, stage ${config.stage} (from ${config.sourceFile.split(/[\\/]/).join('/')})`,
      tags: teamTags(config),
    });
    this.addStackDependency(props.platform);

    this.dataLake = new DataLake(this, 'DataLake', {
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      rawObjectLock: config.dataLake.rawObjectLock,
      lifecycle: config.dataLake.lifecycle,
    });

    // Tools (the training launcher, the retraining pipeline) find the team's resources
    // through these parameters; their names are a contract (docs/training-contract.md).
    const params = teamParameterPath(config);
    for (const zone of DATA_ZONES) {
      const bucket = this.dataLake.bucket(zone);
      new ssm.StringParameter(this, `Param-${zone}-bucket`, {
        parameterName: `${params}/data-lake/${zone}-bucket`,
        stringValue: bucket.bucketName,
        description: `${zone} zone bucket of the ${config.team}/${config.stage} data lake`,
      });
      new CfnOutput(this, `${zone}Bucket`, { value: bucket.bucketName });
    }
    new ssm.StringParameter(this, 'Param-data-lake-key', {
      parameterName: `${params}/data-lake/kms-key-arn`,
      stringValue: this.dataLake.encryptionKey.keyArn,
      description: `KMS key of the ${config.team}/${config.stage} data lake`,
    });
  }
}
