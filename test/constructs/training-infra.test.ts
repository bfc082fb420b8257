import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PlatformNetwork } from '../../constructs/network';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { DataLake } from '../../constructs/data-lake';
import { TrainingInfra, type TrainingInfraProps } from '../../constructs/training';
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

  test('registers models in a model package group', () => {
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
