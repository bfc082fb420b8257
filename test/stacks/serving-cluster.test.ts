import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { K8S_VERSIONS } from '../../constructs/k8s-versions';
import { ServingCluster, type ServingClusterProps } from '../../constructs/serving';
import { testApp } from '../helpers/teams';

const env = { account: '111111111111', region: 'eu-west-1' };

function clusterStack(props: Partial<ServingClusterProps> = {}): { stack: Stack; vpc: ec2.Vpc } {
  const stack = new Stack(testApp(), 'Test', { env });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    natGateways: 1,
  });
  new ServingCluster(stack, 'Serving', { vpc, clusterName: 'test-cluster', ...props });
  return { stack, vpc };
}

describe('ServingCluster with the opt-in options (one synth)', () => {
  let template: Template;

  beforeAll(() => {
    // GIVEN / WHEN
    const stack = new Stack(testApp(), 'Test', { env });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      natGateways: 1,
    });
    new ServingCluster(stack, 'Serving', {
      vpc,
      clusterName: 'test-cluster',
      endpointPublicCidrs: ['203.0.113.0/24'],
      adminRoles: [
        iam.Role.fromRoleArn(stack, 'Admin', 'arn:aws:iam::111111111111:role/PlatformAdmin'),
      ],
      gpuNodes: { instanceTypes: [new ec2.InstanceType('g5.xlarge')], minSize: 0, maxSize: 3 },
    });
    template = Template.fromStack(stack);
  });

  test('public endpoint only from the allow-list (and still private inside the VPC)', () => {
    template.hasResourceProperties('Custom::AWSCDK-EKS-Cluster', {
      Config: Match.objectLike({
        resourcesVpcConfig: Match.objectLike({
          endpointPublicAccess: true,
          endpointPrivateAccess: true,
          publicAccessCidrs: ['203.0.113.0/24'],
        }),
      }),
    });
  });

  test('admin roles get cluster-admin through an access entry', () => {
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      PrincipalArn: 'arn:aws:iam::111111111111:role/PlatformAdmin',
      AccessPolicies: [{ AccessScope: { Type: 'cluster' }, PolicyArn: Match.anyValue() }],
    });
    const entry = Object.values(template.findResources('AWS::EKS::AccessEntry'))[0];
    expect(JSON.stringify(entry.Properties.AccessPolicies)).toContain(
      ':cluster-access-policy/AmazonEKSClusterAdminPolicy',
    );
  });

  test('GPU nodes: NVIDIA AMI, tainted NoSchedule, scale from zero, device plugin pinned', () => {
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_NVIDIA',
      InstanceTypes: ['g5.xlarge'],
      ScalingConfig: { MinSize: 0, MaxSize: 3, DesiredSize: 0 },
      Labels: { 'ml-platform/node-class': 'gpu' },
      Taints: [{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }],
    });
    const plugin = K8S_VERSIONS.helm.nvidiaDevicePlugin;
    template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
      Chart: plugin.chart,
      Version: plugin.version,
      Values: Match.serializedJson(
        Match.objectLike({
          tolerations: [
            { key: 'nvidia.com/gpu', value: 'true', operator: 'Equal', effect: 'NoSchedule' },
          ],
        }),
      ),
    });
  });
});

describe('ServingCluster options are updates, not replacements', () => {
  test('opening the endpoint and adding GPU nodes keeps the cluster, its key and its CPU nodes', () => {
    // GIVEN: the same stack path without and with the opt-in options
    const stateful = (stack: Stack) => {
      const t = Template.fromStack(stack);
      const ids = (type: string) => Object.keys(t.findResources(type)).sort();
      const [cluster] = Object.values(t.findResources('Custom::AWSCDK-EKS-Cluster'));
      return {
        cluster: ids('Custom::AWSCDK-EKS-Cluster'),
        name: cluster.Properties.Config.name,
        subnets: cluster.Properties.Config.resourcesVpcConfig.subnetIds,
        keys: ids('AWS::KMS::Key'),
        cpuNodes: ids('AWS::EKS::Nodegroup').filter((id) => id.includes('Cpu')),
      };
    };
    // WHEN
    const plain = stateful(clusterStack().stack);
    const opened = stateful(
      clusterStack({
        endpointPublicCidrs: ['203.0.113.0/24'],
        gpuNodes: { instanceTypes: [new ec2.InstanceType('g5.xlarge')], minSize: 0, maxSize: 1 },
      }).stack,
    );
    // THEN
    expect(opened).toEqual(plain);
    expect(plain.cluster).toHaveLength(1);
  });
});

describe('ServingCluster validation', () => {
  test("the load balancer controller may attach the team's WAF web ACL to its ALB", () => {
    // The Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn needs these, no more.
    const template = Template.fromStack(clusterStack().stack);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>,
    );
    const actions = new Set(statements.flatMap((st) => ([] as string[]).concat(st.Action)));
    for (const action of [
      'wafv2:GetWebACL',
      'wafv2:GetWebACLForResource',
      'wafv2:AssociateWebACL',
      'wafv2:DisassociateWebACL',
      'elasticloadbalancing:SetWebAcl',
    ])
      expect(actions).toContain(action);
    expect([...actions].filter((a) => a.startsWith('wafv2:'))).toHaveLength(4);
  });

  test('fails when the public allow-list opens the API to the internet', () => {
    expect(() => clusterStack({ endpointPublicCidrs: ['10.0.0.0/8', '0.0.0.0/0'] })).toThrow(
      /Test\/Serving: endpointPublicCidrs must not contain 0\.0\.0\.0\/0/,
    );
  });

  test('fails when a node group minimum is above its maximum', () => {
    expect(() =>
      clusterStack({
        nodes: { instanceTypes: [new ec2.InstanceType('m6i.large')], minSize: 5, maxSize: 2 },
      }),
    ).toThrow(/nodes needs 0 <= minSize <= maxSize and maxSize >= 1, got minSize 5, maxSize 2/);
  });

  test('fails on a cluster name EKS would reject', () => {
    expect(() => clusterStack({ clusterName: 'bad name' })).toThrow(
      /clusterName must be 1-100 letters, digits, dashes and underscores.*"bad name"/,
    );
  });
});
