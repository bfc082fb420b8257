import { Match, Template } from 'aws-cdk-lib/assertions';
import { INTERFACE_ENDPOINTS } from '../../constructs/network';
import { buildApp, teamConfig } from '../helpers/teams';
import { reviewTemplate } from '../helpers/snapshot';

describe('PlatformStack', () => {
  const dev = buildApp([teamConfig({ stage: 'dev' })]);
  const template = Template.fromStack(dev.platforms[0]);

  test('is named per account and region, in that environment, with its AZs from config', () => {
    const [platform] = dev.platforms;
    expect(platform.stackName).toBe('mlp-platform-222222222222-us-east-1');
    expect(platform.account).toBe('222222222222');
    expect(platform.region).toBe('us-east-1');
    expect(platform.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    for (const az of ['us-east-1a', 'us-east-1b']) {
      template.hasResourceProperties('AWS::EC2::Subnet', {
        AvailabilityZone: az,
        MapPublicIpOnLaunch: false,
      });
    }
  });

  test('dev runs one NAT gateway; prod one per AZ', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const prod = buildApp([teamConfig({ stage: 'prod' })]);
    Template.fromStack(prod.platforms[0]).resourceCountIs('AWS::EC2::NatGateway', 2);
    expect(prod.platforms[0].terminationProtection).toBe(true);
  });

  test('logs all VPC traffic to an encrypted log group', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: Match.anyValue(),
      RetentionInDays: 30,
    });
  });

  test('keeps AWS API traffic inside the VPC', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
    const interfaces = template.findResources('AWS::EC2::VPCEndpoint', {
      Properties: { VpcEndpointType: 'Interface' },
    });
    expect(Object.keys(interfaces)).toHaveLength(Object.keys(INTERFACE_ENDPOINTS).length);
    for (const endpoint of Object.values(interfaces)) {
      expect(endpoint.Properties.PrivateDnsEnabled).toBe(true);
    }
    const names = JSON.stringify(Object.values(interfaces).map((e) => e.Properties.ServiceName));
    for (const service of [
      'ecr.api',
      'ecr.dkr',
      'sts',
      'logs',
      'sagemaker.api',
      'sagemaker.runtime',
    ]) {
      expect(names).toContain(`.${service}`);
    }
  });

  test('interface endpoints accept only HTTPS from the VPC', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'HTTPS from inside the VPC to the AWS API interface endpoints',
      SecurityGroupIngress: [
        Match.objectLike({ CidrIp: '10.0.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
      ],
    });
  });

  test('the default security group allows nothing', () => {
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  test('matches the review snapshot', () => {
    expect(reviewTemplate(dev.platforms[0])).toMatchSnapshot();
  });
});
