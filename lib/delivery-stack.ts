import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { DeliveryConfig, TeamConfig } from './config';
import { MlStack } from './ml-stack';
import { DEPLOY_ROLE_NAME, deliveryStackName, platformTags } from './naming';

export interface DeliveryStackProps {
  readonly config: DeliveryConfig;
  readonly account: string;
  /** The team environments of this account: their regions' bootstrap roles are the targets. */
  readonly teams: readonly TeamConfig[];
}

const GITHUB_OIDC = 'token.actions.githubusercontent.com';

/** The CDK bootstrap roles `cdk deploy` assumes (deploy, asset publishing, lookups). */
const BOOTSTRAP_ROLES = ['deploy', 'file-publishing', 'image-publishing', 'lookup'] as const;

/**
 * Continuous delivery of one account from GitHub Actions, without long-lived keys: the GitHub
 * OIDC provider and a deploy role that the configured repository's branches and environments
 * may assume, and that may do nothing but assume the CDK bootstrap roles of the account's
 * regions (those roles hold the deploy permissions, as for any `cdk deploy`).
 */
export class DeliveryStack extends MlStack {
  readonly deployRole: iam.Role;

  constructor(scope: Construct, props: DeliveryStackProps) {
    const { config, account } = props;
    const regions = [...new Set(props.teams.map((t) => t.region))].sort();
    const home = props.teams.find((t) => t.region === regions[0]) as TeamConfig;
    super(scope, {
      name: deliveryStackName(account),
      account,
      region: home.region,
      availabilityZones: home.availabilityZones,
      terminationProtection: props.teams.some((t) => t.terminationProtection),
      description: `ML platform delivery: GitHub OIDC deploy role for ${config.github.repository} in ${account}`,
      tags: platformTags(),
    });
    const provider = new iam.OidcProviderNative(this, 'GitHubOidc', {
      url: `https://${GITHUB_OIDC}`,
      clientIds: ['sts.amazonaws.com'],
    });
    const repo = config.github.repository;
    const subjects = [
      ...config.github.branches.map((b) => `repo:${repo}:ref:refs/heads/${b}`),
      ...config.github.environments.map((e) => `repo:${repo}:environment:${e}`),
    ];
    this.deployRole = new iam.Role(this, 'DeployRole', {
      roleName: DEPLOY_ROLE_NAME,
      description: `Assumed by GitHub Actions of ${repo} (OIDC); may only assume the CDK bootstrap roles`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: { [`${GITHUB_OIDC}:aud`]: 'sts.amazonaws.com' },
        'ForAnyValue:StringEquals': { [`${GITHUB_OIDC}:sub`]: subjects },
      }),
    });
    this.deployRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: regions.flatMap((region) =>
          BOOTSTRAP_ROLES.map(
            (role) =>
              `arn:${this.partition}:iam::${account}:role/cdk-${config.cdkQualifier}-${role}-role-${account}-${region}`,
          ),
        ),
      }),
    );
  }
}
