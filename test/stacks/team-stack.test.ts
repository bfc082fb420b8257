import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { trainingBaseImage } from '../../lib/team-stack';
import { buildApp, certificateArn, teamConfig } from '../helpers/teams';
import { reviewTemplate } from '../helpers/snapshot';
import { SERVING_ENV } from '../../constructs/k8s/serving-env';
import { PREDICTION_TABLE } from '../../serving/src/feedback';

const STATEFUL = ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::DynamoDB::Table'];

function statefulIds(template: Template): string[] {
  return STATEFUL.flatMap((type) => Object.keys(template.findResources(type))).sort();
}

describe('TeamStack', () => {
  test.each(['staging', 'prod'])('retains every bucket and key in %s', (stage) => {
    const { teams } = buildApp([teamConfig({ stage })]);
    const template = Template.fromStack(teams[0]);
    for (const type of STATEFUL) {
      const resources = Object.values(template.findResources(type));
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) {
        expect(r.DeletionPolicy).toBe('Retain');
        expect(r.UpdateReplacePolicy).toBe('Retain');
      }
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('a dev stage retains data unless it is marked throwaway', () => {
    const kept = Template.fromStack(buildApp([teamConfig()]).teams[0]);
    kept.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    const throwaway = Template.fromStack(
      buildApp([teamConfig({ dataLake: { throwaway: true } })]).teams[0],
    );
    throwaway.resourceCountIs('Custom::S3AutoDeleteObjects', 5);
  });

  test('prod is termination protected and tagged for cost allocation', () => {
    const { teams } = buildApp([teamConfig({ stage: 'prod' })]);
    expect(teams[0].stackName).toBe('mlp-fraud-prod');
    expect(teams[0].terminationProtection).toBe(true);
    Template.fromStack(teams[0]).hasResourceProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([
        { Key: 'ml-platform:cost-center', Value: 'cc-42' },
        { Key: 'ml-platform:stage', Value: 'prod' },
        { Key: 'ml-platform:team', Value: 'fraud' },
      ]),
    });
  });

  test("the budget filters on the tags that the team's resources, Batch instances and ALB carry", () => {
    // GIVEN
    const { teams } = buildApp([
      teamConfig({ stage: 'prod', monitoring: { monthlyBudgetUsd: 500 } }),
    ]);
    const template = Template.fromStack(teams[0]);
    // WHEN
    const [budget] = Object.values(template.findResources('AWS::Budgets::Budget'));
    const filter: Record<string, string> = Object.fromEntries(
      budget.Properties.Budget.FilterExpression.And.map(
        (e: { Tags: { Key: string; Values: string[]; MatchOptions: string[] } }) => {
          expect(e.Tags.MatchOptions).toEqual(['EQUALS']);
          return [e.Tags.Key, e.Tags.Values.join()];
        },
      ),
    );
    // THEN
    expect(filter).toEqual({ 'ml-platform:team': 'fraud', 'ml-platform:stage': 'prod' });
    const tagMap = (tags: unknown): Record<string, string> =>
      Array.isArray(tags)
        ? Object.fromEntries(tags.map((t: { Key: string; Value: string }) => [t.Key, t.Value]))
        : (tags as Record<string, string>);
    const resources = template.toJSON().Resources as Record<
      string,
      { Properties?: { Tags?: unknown } }
    >;
    const tagged = Object.entries(resources).filter(([, r]) => r.Properties?.Tags);
    expect(tagged.length).toBeGreaterThan(20);
    for (const [logicalId, r] of tagged) {
      expect([logicalId, tagMap(r.Properties?.Tags)]).toEqual([
        logicalId,
        expect.objectContaining(filter),
      ]);
    }
    // GPU instances that Batch launches carry them too (the compute environment's own tags
    // are not copied to its instances).
    const [compute] = Object.values(template.findResources('AWS::Batch::ComputeEnvironment'));
    expect(compute.Properties.ComputeResources.Tags).toEqual(expect.objectContaining(filter));
    // and the ALB the Load Balancer Controller creates for the team's ingress.
    const manifests = JSON.stringify(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
    );
    expect(manifests).toMatch(
      /alb\.ingress\.kubernetes\.io\/tags\\":\\"ml-platform:team=fraud,ml-platform:stage=prod\\"/,
    );
  });

  test('publishes the data lake for tools under the team parameter path', () => {
    const template = Template.fromStack(buildApp([teamConfig()]).teams[0]);
    for (const name of ['raw', 'processed', 'features', 'models']) {
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `/ml-platform/fraud/dev/data-lake/${name}-bucket`,
        Type: 'String',
      });
    }
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/dev/data-lake/kms-key-arn',
    });
  });

  test('trains with the team config and publishes the training contract', () => {
    const template = Template.fromStack(
      buildApp([
        teamConfig({
          stage: 'prod',
          training: { instanceType: 'ml.p4d.24xlarge', spot: false, maxRuntimeHours: 6 },
        }),
      ]).teams[0],
    );
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/prod/training/instance-type',
      Value: 'ml.p4d.24xlarge',
    });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/prod/training/max-runtime-seconds',
      Value: '21600',
    });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Type: 'EC2', InstanceTypes: ['p4d.24xlarge'] }),
    });
    template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', {
      ModelPackageGroupName: 'mlp-fraud-prod-fraud',
    });
    // npm run model finds the model, its registry approval mode and its group here.
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/prod/training/model-name',
      Value: 'fraud',
    });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/prod/training/approval',
      Value: 'manual',
    });
    // Approvals in that group drive rollout through the approval Lambda.
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        'detail-type': ['SageMaker Model Package State Change'],
        detail: Match.objectLike({ ModelPackageGroupName: ['mlp-fraud-prod-fraud'] }),
      }),
    });
    // The alarm's job-name filter is the prefix the launcher names jobs with.
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        detail: Match.objectLike({ TrainingJobName: [{ prefix: 'fraud-prod-' }] }),
      }),
    });
    // ...and the Batch jobs of `--mode ec2` on the team's own queue.
    const [queue] = Object.keys(template.findResources('AWS::Batch::JobQueue'));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        detail: {
          jobQueue: [{ 'Fn::GetAtt': [queue, 'JobQueueArn'] }],
          jobName: [{ prefix: 'fraud-prod-' }],
          status: ['FAILED'],
        },
      },
    });
  });

  test('captures a sample of requests into the processed zone when configured', () => {
    const stack = buildApp([
      teamConfig({
        serving: {
          ingress: { certificateArn: certificateArn('us-east-1', '222222222222') },
          captureSampleRate: 0.1,
        },
      }),
    ]).teams[0];
    const template = Template.fromStack(stack);
    const processed = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) =>
      id.startsWith('DataLakeProcessed'),
    );
    const manifest = JSON.stringify(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
    );
    expect(manifest).toContain('\\"SERVING_CAPTURE_SAMPLE\\":\\"0.1\\"');
    expect(manifest).toMatch(
      new RegExp(`SERVING_CAPTURE_URI.{0,40}s3://.{0,40}"Ref":"${processed}"`),
    );
  });

  test.each([
    ['dev', false],
    ['prod', true],
  ] as const)(
    'a %s team has the prediction table the pods share (data lake key, TTL, PITR %p) and the chart points them at it',
    (stage, recovery) => {
      const stack = buildApp([
        teamConfig({
          stage,
          serving: {
            ingress: { certificateArn: certificateArn('us-east-1', '222222222222') },
            feedback: { windowHours: 6 },
          },
        }),
      ]).teams[0];
      const template = Template.fromStack(stack);
      const [[table, resource]] = Object.entries(template.findResources('AWS::DynamoDB::Table'));
      const key = Object.keys(template.findResources('AWS::KMS::Key')).find((id) =>
        id.startsWith('DataLakeKey'),
      );
      expect(resource.Properties).toEqual({
        KeySchema: [{ AttributeName: PREDICTION_TABLE.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: PREDICTION_TABLE.partitionKey, AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
        },
        TimeToLiveSpecification: { AttributeName: PREDICTION_TABLE.ttlAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: recovery },
        Tags: expect.arrayContaining([{ Key: 'ml-platform:team', Value: 'fraud' }]),
      });
      // Kept like the data lake: only a throwaway stage may delete it.
      expect(resource.DeletionPolicy).toBe('Retain');
      const manifest = JSON.stringify(
        template.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
      );
      expect(manifest).toContain(`\\"${SERVING_ENV.feedbackWindowSeconds}\\":\\"21600\\"`);
      expect(manifest).toMatch(new RegExp(`${SERVING_ENV.predictionTable}.{0,20}"Ref":"${table}"`));
    },
  );

  test('a WAF web ACL rate-limits each API key fleet-wide and the Ingress attaches it to the ALB', () => {
    // GIVEN
    const stack = buildApp([
      teamConfig({
        serving: {
          ingress: { certificateArn: certificateArn('us-east-1', '222222222222') },
          rateLimit: { requestsPerSecond: 50, perPodRequestsPerSecond: 20 },
        },
      }),
    ]).teams[0];
    const template = Template.fromStack(stack);
    // THEN one regional ACL, default allow, one 429 rule per key header, 50/s over 60 s
    template.resourceCountIs('AWS::WAFv2::WebACL', 1);
    const rule = (header: string, priority: number) =>
      Match.objectLike({
        Name: `RatePerApiKey-${header}`,
        Priority: priority,
        Action: {
          Block: {
            CustomResponse: Match.objectLike({
              ResponseCode: 429,
              CustomResponseBodyKey: 'rateLimited',
            }),
          },
        },
        Statement: {
          RateBasedStatement: {
            AggregateKeyType: 'CUSTOM_KEYS',
            CustomKeys: [
              { Header: { Name: header, TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
            ],
            EvaluationWindowSec: 60,
            Limit: 3000,
          },
        },
      });
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Name: 'mlp-fraud-dev-serving',
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [rule('authorization', 0), rule('x-api-key', 1)],
    });
    // AND the Ingress names it; each pod keeps its own per-key limit as a second line
    const [aclId] = Object.keys(template.findResources('AWS::WAFv2::WebACL'));
    const manifest = JSON.stringify(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
    );
    expect(manifest).toMatch(
      new RegExp(
        `alb.ingress.kubernetes.io/wafv2-acl-arn.{0,40}"Fn::GetAtt":\\["${aclId}","Arn"\\]`,
      ),
    );
    expect(manifest).toContain('\\"SERVING_RATE_LIMIT_RPS\\":\\"20\\"');
  });

  test("the trainer image's base is the pin the Dockerfile documents", () => {
    // Two spellings of one pin: the Dockerfile's default (a plain docker build) and the
    // region-specific build argument the stack passes.
    const dockerfile = fs.readFileSync(
      path.join(__dirname, '..', '..', 'training', 'reference', 'Dockerfile'),
      'utf8',
    );
    expect(dockerfile).toContain(`ARG BASE_IMAGE=${trainingBaseImage('us-east-1')}\n`);
  });

  test('changing harmless fields never replaces a bucket or key', () => {
    const before = Template.fromStack(buildApp([teamConfig({ stage: 'prod' })]).teams[0]);
    const after = Template.fromStack(
      buildApp([
        teamConfig({
          stage: 'prod',
          costCenter: 'cc-99',
          owners: ['someone-else@example.com'],
          alarmEmails: ['pager@example.com'],
          dataLake: { lifecycle: { noncurrentVersionDays: 365, intelligentTieringDays: 60 } },
          serving: {
            ingress: { certificateArn: certificateArn('us-east-1', '222222222222') },
            maxReplicas: 40,
          },
          monitoring: { driftThreshold: 0.3 },
        }),
      ]).teams[0],
    );
    expect(statefulIds(after)).toEqual(statefulIds(before));
    // Same logical IDs *and* no replacement-forcing property (bucket name, key spec) changed.
    for (const type of STATEFUL) {
      const b = before.findResources(type);
      const a = after.findResources(type);
      for (const id of Object.keys(b)) {
        expect(a[id].Properties.BucketName).toEqual(b[id].Properties.BucketName);
        expect(a[id].Properties.ObjectLockEnabled).toEqual(b[id].Properties.ObjectLockEnabled);
        expect(a[id].Properties.KeySpec).toEqual(b[id].Properties.KeySpec);
      }
    }
  });

  test('adding another team leaves existing stacks byte-identical', () => {
    const one = buildApp([teamConfig()]);
    const two = buildApp([teamConfig(), teamConfig({ team: 'search' })]);
    expect(Template.fromStack(two.teams[0]).toJSON()).toEqual(
      Template.fromStack(one.teams[0]).toJSON(),
    );
  });

  test('matches the review snapshot', () => {
    expect(reviewTemplate(buildApp([teamConfig({ stage: 'prod' })]).teams[0])).toMatchSnapshot();
  });
});
