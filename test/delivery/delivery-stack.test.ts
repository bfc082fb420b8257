import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import { buildPlatformApp } from '../../lib/app';
import { deliverySchema, loadDeliveryConfig, parseConfigFile } from '../../lib/config';
import { DEPLOY_ROLE_NAME } from '../../lib/naming';
import { placeholderImageDir, servingTeamConfig, testApp, writeTeamsDir } from '../helpers/teams';

const delivery = deliverySchema.parse({
  github: { repository: 'acme/ml-platform', branches: ['main'], environments: ['prod'] },
});

function synth(withDelivery: boolean) {
  const app = testApp();
  const built = buildPlatformApp(
    app,
    [
      servingTeamConfig(),
      servingTeamConfig({
        team: 'beta',
        region: 'us-east-1',
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        serving: {
          ingress: {
            certificateArn:
              'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-4000-8000-000000000001',
          },
        },
      }),
    ],
    {
      servingImageDirectory: placeholderImageDir(),
      trainerImageDirectory: placeholderImageDir(),
      delivery: withDelivery ? delivery : undefined,
    },
  );
  // Synth runs cdk-nag: an unacknowledged finding throws here.
  app.synth();
  return built;
}

describe('DeliveryStack', () => {
  const built = synth(true);
  const template = Template.fromStack(built.delivery[0]);

  test('one per account, in the first region of its teams, and none without config/delivery.yaml', () => {
    expect(built.delivery.map((s) => [s.stackName, s.region])).toEqual([
      ['mlp-delivery-111111111111', 'eu-west-1'],
    ]);
    expect(synth(false).delivery).toEqual([]);
  });

  test('creates the GitHub OIDC provider for sts.amazonaws.com', () => {
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  test('the deploy role trusts only the configured repository, branches and environments', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: DEPLOY_ROLE_NAME,
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: Match.stringLikeRegexp('^GitHubOidc') } },
            Condition: {
              StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
              'ForAnyValue:StringEquals': {
                'token.actions.githubusercontent.com:sub': [
                  'repo:acme/ml-platform:ref:refs/heads/main',
                  'repo:acme/ml-platform:environment:prod',
                ],
              },
            },
          },
        ],
      },
    });
  });

  test("the deploy role may only assume the CDK bootstrap roles of its teams' regions", () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    const roles = ['deploy', 'file-publishing', 'image-publishing', 'lookup'].flatMap((r) =>
      ['eu-west-1', 'us-east-1'].map(
        (region) => `arn:aws:iam::111111111111:role/cdk-hnb659fds-${r}-role-111111111111-${region}`,
      ),
    );
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      { Action: ['sts:AssumeRole', 'sts:TagSession'], Effect: 'Allow', Resource: roles },
    ]);
    expect(template.findResources('AWS::IAM::ManagedPolicy')).toEqual({});
  });
});

describe('config/delivery.yaml', () => {
  test('is optional: no file, no delivery', () => {
    const dir = writeTeamsDir({});
    expect(loadDeliveryConfig({ tryGetContext: () => undefined })).toBeUndefined();
    expect(() => loadDeliveryConfig({ tryGetContext: () => `${dir}/missing.yaml` })).toThrow(
      /missing\.yaml: delivery file not found/,
    );
  });

  test('fails with the file, the line and the field path', () => {
    const text = stringify({ github: { repository: 'not a repo' } });
    const parsed = parseConfigFile('config/delivery.yaml', text, deliverySchema);
    expect(parsed).toEqual({
      problems: [
        {
          file: 'config/delivery.yaml',
          path: 'github.repository',
          line: 2,
          message: 'must be owner/name, like "acme/ml-platform"',
        },
      ],
    });
  });

  test('defaults to main and the three stage environments', () => {
    expect(deliverySchema.parse({ github: { repository: 'acme/x' } })).toEqual({
      github: {
        repository: 'acme/x',
        branches: ['main'],
        environments: ['dev', 'staging', 'prod'],
      },
      cdkQualifier: 'hnb659fds',
    });
  });
});
