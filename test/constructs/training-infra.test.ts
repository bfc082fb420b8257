import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PlatformNetwork } from '../../constructs/network';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { DataLake } from '../../constructs/data-lake';
import { TrainingInfra, type TrainingInfraProps } from '../../constructs/training';
import { decodeObjective, encodeObjective } from '../../constructs/training/contract';
import { addSecurityChecks } from '../../lib/nag';
import { testApp } from '../helpers/teams';

const PATH = '/ml-platform/fraud/prod/training';

function synth(props: Partial<TrainingInfraProps> = {}) {
  const app = testApp();
  const stack = new Stack(app, 'Test', { env: { account: '222222222222', region: 'us-east-1' } });
  const { vpc } = new PlatformNetwork(stack, 'Net', {
    availabilityZones: ['us-east-1a', 'us-east-1b'],
  });
  const dataLake = new DataLake(stack, 'Lake');
  const infra = new TrainingInfra(stack, 'Training', {
    dataLake,
    vpc,
    image: {
      repository: ecr.Repository.fromRepositoryName(stack, 'Repo', 'trainer'),
      imageTag: 'v1',
    },
    parameterPath: PATH,
    modelPackageGroupName: 'mlp-fraud-prod-churn',
    modelName: 'churn',
    ...props,
  });
  return { app, stack, infra, dataLake, template: Template.fromStack(stack) };
}

describe('TrainingInfra', () => {
  const { template, stack, dataLake } = synth();
  const id = (c: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(c.node.defaultChild as never);

  test('publishes every launcher parameter of the training contract', () => {
    for (const name of [
      'role-arn',
      'image-uri',
      'instance-type',
      'data-s3-uri',
      'output-s3-uri',
      'checkpoint-s3-uri',
      'kms-key-arn',
      'batch/job-queue',
      'batch/job-definition',
      'max-runtime-seconds',
      'spot',
      'model-package-group',
      'model-name',
      'approval',
    ]) {
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `${PATH}/${name}`,
        Type: 'String',
      });
    }
    for (const name of ['subnet-ids', 'security-group-ids']) {
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `${PATH}/${name}`,
        Type: 'StringList',
      });
    }
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/instance-type`,
      Value: 'ml.g5.xlarge',
    });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/max-runtime-seconds`,
      Value: '86400',
    });
  });

  test('the SageMaker role reads only training data and writes only training outputs', () => {
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('TrainingSageMakerRole') }] },
    });
    const text = JSON.stringify(Object.values(policies));
    expect(text).toContain(`["${id(dataLake.bucket('features'))}","Arn"]},"/training/*"`);
    expect(text).toContain(`["${id(dataLake.bucket('models'))}","Arn"]},"/training/*"`);
    expect(text).toContain(`["${id(dataLake.bucket('models'))}","Arn"]},"/checkpoints/*"`);
    expect(text).not.toContain(id(dataLake.bucket('raw')));
    expect(text).not.toContain(id(dataLake.bucket('processed')));
    expect(text).not.toContain('s3:DeleteObject');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })],
      },
    });
  });

  test('the Batch queue runs GPU spot instances in private subnets, scaling to zero', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        Type: 'SPOT',
        MinvCpus: 0,
        MaxvCpus: 64,
        InstanceTypes: ['g5.xlarge'],
        AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
        Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }],
        Subnets: [
          { Ref: Match.stringLikeRegexp('NetVpcprivateSubnet1') },
          { Ref: Match.stringLikeRegexp('NetVpcprivateSubnet2') },
        ],
      }),
    });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'GPU', Value: '1' }]),
      }),
      Timeout: { AttemptDurationSeconds: 86400 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
    });
  });

  test('training has no inbound access', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Training jobs: no inbound; HTTPS out to AWS endpoints only',
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [Match.objectLike({ FromPort: 443, ToPort: 443 })],
    });
  });

  test('attaches SageMaker jobs to the VPC only through the training subnets and group', () => {
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp('TrainingSageMakerRole') }] },
      }),
    ).flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
    const actionsOf = (s: Record<string, unknown>) => ([] as string[]).concat(s.Action as string);
    const eniWrites = [
      'ec2:CreateNetworkInterface',
      'ec2:CreateNetworkInterfacePermission',
      'ec2:DeleteNetworkInterface',
    ];
    // No EC2 write is allowed on "*" but the one that names only a permission id.
    const onStar = statements.filter((s) => s.Resource === '*').flatMap(actionsOf);
    expect(onStar.filter((a) => a.startsWith('ec2:') && !a.startsWith('ec2:Describe'))).toEqual([
      'ec2:DeleteNetworkInterfacePermission',
    ]);
    const text = (v: unknown) => JSON.stringify(stack.resolve(v));
    const eniStatement = statements.find((s) => s.Sid === 'TrainingEnisInTrainingSubnets')!;
    expect(actionsOf(eniStatement)).toEqual(eniWrites);
    expect(text(eniStatement.Resource)).toContain(':network-interface/*');
    const conditions = eniStatement.Condition as { ArnEquals: Record<string, unknown> };
    expect(Object.keys(conditions)).toEqual(['ArnEquals']);
    expect(text(conditions.ArnEquals['ec2:Vpc'])).toMatch(/:vpc\/".*NetVpc/);
    const subnets = conditions.ArnEquals['ec2:Subnet'] as unknown[];
    expect(subnets.map(text)).toEqual([
      expect.stringMatching(/:subnet\/".*NetVpcprivateSubnet1Subnet/),
      expect.stringMatching(/:subnet\/".*NetVpcprivateSubnet2Subnet/),
    ]);
    const placement = statements.find((s) => s.Sid === 'TrainingEniPlacement')!;
    expect(actionsOf(placement)).toEqual(['ec2:CreateNetworkInterface']);
    expect(placement.Condition).toBeUndefined();
    const placed = (placement.Resource as unknown[]).map(text);
    expect(placed).toHaveLength(3);
    expect(placed.filter((r) => /:subnet\/".*NetVpcprivateSubnet/.test(r))).toHaveLength(2);
    expect(placed.filter((r) => /:security-group\/".*TrainingSecurityGroup/.test(r))).toHaveLength(
      1,
    );
  });

  test('Batch training logs go to a named log group encrypted with the data lake key', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: PATH,
      KmsKeyId: { 'Fn::GetAtt': [id(dataLake.encryptionKey as never), 'Arn'] },
      RetentionInDays: 365,
    });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        LogConfiguration: Match.objectLike({
          LogDriver: 'awslogs',
          Options: Match.objectLike({
            'awslogs-group': { Ref: Match.stringLikeRegexp('BatchLogs') },
          }),
        }),
      }),
    });
    // CloudWatch Logs may use the key for that log group only.
    const key = template.toJSON().Resources[id(dataLake.encryptionKey as never)];
    const statement = key.Properties.KeyPolicy.Statement.find(
      (s: { Sid?: string }) => s.Sid === 'AllowTrainingLogGroup',
    );
    expect(statement.Principal).toEqual({ Service: 'logs.us-east-1.amazonaws.com' });
    expect(statement.Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:us-east-1:222222222222:log-group:${PATH}`,
      },
    });
  });

  test('creates the model package group under the given name', () => {
    template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', {
      ModelPackageGroupName: 'mlp-fraud-prod-churn',
    });
  });

  test('on-demand and limits follow props', () => {
    const t = synth({
      spot: false,
      maxRuntime: Duration.hours(2),
      maxVcpus: 8,
      instanceType: 'ml.p4d.24xlarge',
    });
    t.template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({
        Type: 'EC2',
        MaxvCpus: 8,
        InstanceTypes: ['p4d.24xlarge'],
      }),
    });
    t.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/spot`,
      Value: 'false',
    });
    t.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/max-runtime-seconds`,
      Value: '7200',
    });
  });

  test('publishes the team objective as JSON for the launcher, and no parameter without one', () => {
    // GIVEN a team objective
    const objective = { metric: 'precision_at_recall', parameter: 0.9, target: 0.85 } as const;
    // WHEN
    const withObjective = synth({ objective }).template;
    // THEN the parameter holds it, in the contract's encoding
    withObjective.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/objective`,
      Type: 'String',
      Value: '{"metric":"precision_at_recall","parameter":0.9,"target":0.85}',
    });
    expect(decodeObjective(encodeObjective(objective))).toEqual(objective);
    expect(
      Object.values(template.findResources('AWS::SSM::Parameter')).map(
        (r) => r.Properties.Name as string,
      ),
    ).not.toContain(`${PATH}/objective`);
  });

  test('is cdk-nag clean', () => {
    const { app } = synth();
    addSecurityChecks(app);
    expect(() => app.synth({ force: true })).not.toThrow();
  });

  test('fails on an instance type that is not a SageMaker type', () => {
    expect(() => synth({ instanceType: 'g5.xlarge' })).toThrow(
      'Test/Training: instanceType must be a SageMaker instance type like "ml.g5.xlarge", got "g5.xlarge"',
    );
  });
});

describe('TrainingInfra experiment tracking (MLflow)', () => {
  const tracking = { trackingServerName: 'mlp-fraud-prod', size: 'Medium' as const };
  const { template, stack, dataLake, infra } = synth({ experimentTracking: tracking });
  const models = () => stack.getLogicalId(dataLake.bucket('models').node.defaultChild as never);
  const serverId = () => stack.getLogicalId(infra.experimentTracking!.trackingServer as never);
  const policyText = (rolePattern: string) =>
    JSON.stringify(
      Object.values(
        template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: Match.stringLikeRegexp(rolePattern) }] },
        }),
      ),
    );

  test('a tracking server of the given size stores artifacts in models/mlflow and registers no models', () => {
    template.resourceCountIs('AWS::SageMaker::MlflowTrackingServer', 1);
    template.hasResourceProperties('AWS::SageMaker::MlflowTrackingServer', {
      TrackingServerName: 'mlp-fraud-prod',
      TrackingServerSize: 'Medium',
      ArtifactStoreUri: { 'Fn::Join': ['', ['s3://', { Ref: models() }, '/mlflow']] },
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingExperimentTrackingRole'), 'Arn'] },
      AutomaticModelRegistration: false,
    });
  });

  test('the server’s role may use only models/mlflow/* of the lake (and its key)', () => {
    const text = policyText('TrainingExperimentTrackingRole');
    expect(text).toContain(`["${models()}","Arn"]},"/mlflow/*"`);
    expect(text).not.toContain('"/training/*"');
    expect(text).not.toContain('"/checkpoints/*"');
    expect(text).not.toContain('s3:DeleteObject');
    expect(text).toContain('kms:GenerateDataKey*');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })],
      },
      Description: 'Assumed by the MLflow tracking server mlp-fraud-prod for its artifact store',
    });
  });

  test('only the training roles may log to it: the MLflow API on this server, and the artifact prefix', () => {
    const mlflowStatements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
          .filter((s) => [s.Action].flat().some((a) => a.startsWith('sagemaker-mlflow:')))
          .map((s) => ({ roles: p.Properties.Roles, statement: s })),
    );
    expect(mlflowStatements.map((m) => m.roles[0].Ref).sort()).toEqual([
      stack.getLogicalId(infra.batchJobRole.node.defaultChild as never),
      stack.getLogicalId(infra.sageMakerRole.node.defaultChild as never),
    ]);
    for (const { statement } of mlflowStatements) {
      expect(statement).toEqual({
        Effect: 'Allow',
        // (aws-cdk-lib sorts the actions)
        Action: [
          'sagemaker-mlflow:CreateExperiment',
          'sagemaker-mlflow:CreateRun',
          'sagemaker-mlflow:GetExperiment',
          'sagemaker-mlflow:GetExperimentByName',
          'sagemaker-mlflow:GetRun',
          'sagemaker-mlflow:ListArtifacts',
          'sagemaker-mlflow:LogBatch',
          'sagemaker-mlflow:LogMetric',
          'sagemaker-mlflow:LogParam',
          'sagemaker-mlflow:SearchExperiments',
          'sagemaker-mlflow:SetTag',
          'sagemaker-mlflow:UpdateRun',
        ],
        Resource: { 'Fn::GetAtt': [serverId(), 'TrackingServerArn'] },
      });
    }
    for (const role of ['TrainingSageMakerRole', 'TrainingBatchJobRole'])
      expect(policyText(role)).toContain(`["${models()}","Arn"]},"/mlflow/*"`);
  });

  test('publishes the server ARN as the mlflow/tracking-server-arn parameter', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `${PATH}/mlflow/tracking-server-arn`,
      Value: { 'Fn::GetAtt': [serverId(), 'TrackingServerArn'] },
    });
  });

  test('no server, grant or parameter without experimentTracking', () => {
    const { template: plain } = synth();
    plain.resourceCountIs('AWS::SageMaker::MlflowTrackingServer', 0);
    expect(JSON.stringify(plain.toJSON())).not.toContain('sagemaker-mlflow:');
    expect(JSON.stringify(plain.toJSON())).not.toContain('mlflow/tracking-server-arn');
  });

  test('is cdk-nag clean', () => {
    const { app } = synth({ experimentTracking: tracking });
    addSecurityChecks(app);
    expect(() => app.synth({ force: true })).not.toThrow();
  });

  test('fails on a tracking server name SageMaker refuses', () => {
    expect(() => synth({ experimentTracking: { trackingServerName: 'fraud_prod' } })).toThrow(
      'Test/Training/ExperimentTracking: trackingServerName "fraud_prod" is invalid: use 1-256 letters, digits and inner hyphens (ExperimentTracking)',
    );
  });
});
