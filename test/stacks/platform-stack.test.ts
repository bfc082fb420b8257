import * as fs from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { INTERFACE_ENDPOINTS } from '../../constructs/network';
import type { TeamConfig } from '../../lib/config';
import { buildApp, certificateArn, teamConfig } from '../helpers/teams';
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
      template.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: az });
    }
  });

  test('no subnet, public ones included, gives instances a public IP on launch', () => {
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet'));
    const publicSubnets = subnets.filter((s) =>
      s.Properties.Tags.some(
        (t: { Key: string; Value: string }) =>
          t.Key === 'aws-cdk:subnet-type' && t.Value === 'Public',
      ),
    );
    expect(publicSubnets).toHaveLength(2);
    for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    // The NAT gateways still get their Elastic IPs.
    template.resourceCountIs('AWS::EC2::EIP', 1);
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

  test('adding a team leaves the platform template byte-identical', () => {
    // GIVEN a second team in the same account and region that asks nothing else of the
    // shared network or cluster, listed before the first
    const other = teamConfig({
      team: 'ads',
      costCenter: 'cc-7',
      owners: ['ads@example.com'],
      alarmEmails: ['ads-oncall@example.com'],
      serving: {
        modelName: 'ranker',
        ingress: { certificateArn: certificateArn('us-east-1', '222222222222') },
      },
    });
    // WHEN
    const alone = platformTemplateText([teamConfig({ stage: 'dev' })]);
    const together = platformTemplateText([other, teamConfig({ stage: 'dev' })]);
    // THEN
    expect(together).toBe(alone);
  });

  test('a team that changes the shared cluster does change the platform template', () => {
    const admin = 'arn:aws:iam::222222222222:role/ads-admin';
    const text = platformTemplateText([
      teamConfig({ stage: 'dev' }),
      teamConfig({ team: 'ads', cluster: { adminRoleArns: [admin] } }),
    ]);
    expect(text).not.toBe(platformTemplateText([teamConfig({ stage: 'dev' })]));
    expect(text).toContain(admin);
  });

  test('matches the review snapshot', () => {
    expect(reviewTemplate(dev.platforms[0])).toMatchSnapshot();
  });
});

/** The platform template as `cdk synth` writes it to disk. */
function platformTemplateText(teams: TeamConfig[]): string {
  const { app, platforms } = buildApp(teams);
  const artifact = app.synth().getStackArtifact(platforms[0].artifactId);
  return fs.readFileSync(artifact.templateFullPath, 'utf8');
}
