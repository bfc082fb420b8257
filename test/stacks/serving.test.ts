import { Template, Match } from 'aws-cdk-lib/assertions';
import { buildPlatformApp, type MlPlatformApp } from '../../lib/app';
import { loadTeamConfigs } from '../../lib/config';
import { K8S_VERSIONS, MONITORING_NAMESPACE } from '../../constructs/k8s-versions';
import { CONTROL_PLANE_LOG_TYPES } from '../../constructs/serving';
import {
  aliasFile,
  MODEL_STORE_PREFIX,
  modelRoot,
  versionDir,
} from '../../serving/src/store/layout';
import { testApp, CERTIFICATE_ARN, placeholderImageDir, servingTeamConfig } from '../helpers/teams';

/**
 * The example team (config/teams/example.yaml) and a second team in the same account and
 * region, synthesized once with cdk-nag (an EKS synth takes seconds): every test reads these.
 */
describe('serving on EKS (example team + a second team, one synth)', () => {
  let built: MlPlatformApp;
  let platform: Template;
  let example: Template;
  let other: Template;

  beforeAll(() => {
    // GIVEN
    const [exampleTeam] = loadTeamConfigs('config/teams');
    const otherTeam = servingTeamConfig({
      team: 'other',
      region: exampleTeam.region,
      serving: {
        ingress: { certificateArn: CERTIFICATE_ARN },
        latencyP99Ms: 250,
        apiKeyRotationDays: 7,
      },
      monitoring: {
        errorRateThreshold: 0.02,
        lowConfidenceThreshold: 0.6,
        driftThreshold: 0.3,
        monthlyBudgetUsd: 100,
      },
    });
    const app = testApp();
    // WHEN: synth runs cdk-nag; an unacknowledged error would throw here
    built = buildPlatformApp(app, [exampleTeam, otherTeam], {
      servingImageDirectory: placeholderImageDir(),
      trainerImageDirectory: placeholderImageDir(),
    });
    app.synth();
    platform = Template.fromStack(built.platforms[0]);
    [example, other] = built.teams.map((t) => Template.fromStack(t));
  });

  test('one platform stack for both teams of the account and region', () => {
    expect(built.platforms).toHaveLength(1);
    expect(built.teams.map((t) => t.stackName)).toEqual(['mlp-example-dev', 'mlp-other-dev']);
  });

  describe('cluster', () => {
    test('Kubernetes version from the versions module, API endpoint private by default', () => {
      platform.hasResourceProperties('Custom::AWSCDK-EKS-Cluster', {
        Config: Match.objectLike({
          version: K8S_VERSIONS.kubernetes,
          resourcesVpcConfig: Match.objectLike({
            endpointPublicAccess: false,
            endpointPrivateAccess: true,
          }),
        }),
      });
      const cluster = Object.values(platform.findResources('Custom::AWSCDK-EKS-Cluster'))[0];
      expect(cluster.Properties.Config.resourcesVpcConfig.publicAccessCidrs).toBeUndefined();
    });

    test('every control-plane log type on, secrets encrypted with a rotated KMS key', () => {
      platform.hasResourceProperties('Custom::AWSCDK-EKS-Cluster', {
        Config: Match.objectLike({
          logging: {
            clusterLogging: [{ enabled: true, types: Match.arrayEquals(CONTROL_PLANE_LOG_TYPES) }],
          },
          encryptionConfig: [
            {
              provider: { keyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SecretsKey'), 'Arn'] } },
              resources: ['secrets'],
            },
          ],
        }),
      });
      expect(CONTROL_PLANE_LOG_TYPES).toHaveLength(5);
      platform.hasResourceProperties('AWS::KMS::Key', {
        Description: Match.stringLikeRegexp('Kubernetes secrets'),
        EnableKeyRotation: true,
      });
    });

    test('control-plane logs kept with the platform retention, encrypted with the log key', () => {
      platform.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/aws/eks/mlp-platform/cluster',
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkLogKey'), 'Arn'] },
      });
      const [cluster] = Object.values(platform.findResources('Custom::AWSCDK-EKS-Cluster'));
      expect(cluster.DependsOn).toEqual(
        expect.arrayContaining([expect.stringMatching(/^ServingControlPlaneLogs/)]),
      );
    });

    test('access entries only (no aws-auth ConfigMap)', () => {
      platform.hasResourceProperties('Custom::AWSCDK-EKS-Cluster', {
        Config: Match.objectLike({ accessConfig: Match.objectLike({ authenticationMode: 'API' }) }),
      });
      platform.resourcePropertiesCountIs(
        'Custom::AWSCDK-EKS-KubernetesResource',
        { Manifest: Match.stringLikeRegexp('aws-auth') },
        0,
      );
    });

    test('CPU nodes in private subnets, sized by stage, IMDSv2 with hop limit 1, encrypted gp3', () => {
      platform.hasResourceProperties('AWS::EKS::Nodegroup', {
        AmiType: 'AL2023_x86_64_STANDARD',
        InstanceTypes: ['m6i.large'],
        ScalingConfig: { MinSize: 2, MaxSize: 4, DesiredSize: 2 },
        Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('privateSubnet') }]),
        Labels: { 'ml-platform/node-class': 'cpu' },
      });
      platform.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [
            Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }),
          ],
        }),
      });
      platform.resourceCountIs('AWS::EKS::Nodegroup', 1); // no GPU group unless configured
    });

    test('add-ons and Helm charts pinned to the versions module', () => {
      for (const addon of Object.values(K8S_VERSIONS.addons)) {
        platform.hasResourceProperties('AWS::EKS::Addon', {
          AddonName: addon.name,
          AddonVersion: addon.version,
        });
      }
      const { nvidiaDevicePlugin, ...installed } = K8S_VERSIONS.helm;
      for (const chart of Object.values(installed)) {
        platform.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
          Chart: chart.chart,
          Repository: chart.repository,
          Version: chart.version,
        });
      }
      platform.resourcePropertiesCountIs(
        'Custom::AWSCDK-EKS-HelmChart',
        { Chart: nvidiaDevicePlugin.chart },
        0,
      );
    });

    test('the Secrets Store CSI driver re-fetches mounted secrets (rotation), and never syncs them to Kubernetes Secrets', () => {
      const driver = K8S_VERSIONS.helm.secretsStoreCsiDriver;
      platform.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
        Chart: driver.chart,
        Values: Match.serializedJson({
          syncSecret: { enabled: false },
          enableSecretRotation: true,
          rotationPollInterval: '2m',
        }),
      });
    });

    test('the VPC CNI enforces NetworkPolicies (the teams rely on default-deny)', () => {
      platform.hasResourceProperties('AWS::EKS::Addon', {
        AddonName: 'vpc-cni',
        ConfigurationValues: Match.serializedJson({ enableNetworkPolicy: 'true' }),
        ResolveConflicts: 'OVERWRITE',
      });
    });

    test('controllers get AWS permissions through Pod Identity, scoped to the cluster', () => {
      for (const [namespace, serviceAccount] of [
        ['kube-system', 'aws-load-balancer-controller'],
        ['kube-system', 'cluster-autoscaler'],
        ['amazon-cloudwatch', 'cloudwatch-agent'],
      ]) {
        platform.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
          Namespace: namespace,
          ServiceAccount: serviceAccount,
        });
      }
      platform.hasResourceProperties('AWS::IAM::Role', {
        Description: Match.stringLikeRegexp('Cluster Autoscaler'),
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Action: ['sts:AssumeRole', 'sts:TagSession'],
              Principal: { Service: 'pods.eks.amazonaws.com' },
              Condition: {
                StringEquals: { 'aws:SourceAccount': '111111111111' },
                ArnEquals: { 'aws:SourceArn': Match.anyValue() },
              },
            }),
          ],
        },
      });
    });

    test('the autoscaler may only resize node groups this cluster owns', () => {
      platform.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Action: [
                'autoscaling:SetDesiredCapacity',
                'autoscaling:TerminateInstanceInAutoScalingGroup',
              ],
              Effect: 'Allow',
              Resource: '*',
              Condition: {
                StringEquals: { 'aws:ResourceTag/k8s.io/cluster-autoscaler/mlp-platform': 'owned' },
              },
            },
          ]),
        },
      });
    });
  });

  describe('per team', () => {
    const podRolePolicy = (t: Template) => {
      const policies = Object.values(
        t.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^ServingPodRole') }] },
        }),
      );
      expect(policies).toHaveLength(1);
      return policies[0].Properties.PolicyDocument.Statement as {
        Sid?: string;
        Action: string | string[];
        Resource: unknown;
        Condition?: unknown;
      }[];
    };
    /** The data and secret statements (the metrics statement has no resource to scope). */
    const dataStatements = (t: Template) =>
      podRolePolicy(t).filter((s) => s.Sid !== 'PublishServingMetrics');
    const logicalId = (t: Template, type: string, prefix: string) => {
      const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
      expect(ids).toHaveLength(1);
      return ids[0];
    };

    test('the pod role reads only models/*, writes only feedback/*, reads only its own secret, and may only write and claim items of its own prediction table', () => {
      for (const t of [example, other]) {
        // GIVEN
        const models = logicalId(t, 'AWS::S3::Bucket', 'DataLakeModels');
        const processed = logicalId(t, 'AWS::S3::Bucket', 'DataLakeProcessed');
        const key = logicalId(t, 'AWS::KMS::Key', 'DataLakeKey');
        const secret = logicalId(t, 'AWS::SecretsManager::Secret', 'ServingApiKeys');
        const table = logicalId(t, 'AWS::DynamoDB::Table', 'ServingPredictions');
        // THEN: exactly these resources, all of this stack (no import, no wildcard)
        expect(dataStatements(t).map((s) => s.Resource)).toEqual([
          [
            { 'Fn::GetAtt': [models, 'Arn'] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [models, 'Arn'] }, '/models/*']] },
          ],
          { 'Fn::GetAtt': [key, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [processed, 'Arn'] }, '/feedback/*']] },
          { Ref: secret },
          { 'Fn::GetAtt': [table, 'Arn'] },
        ]);
        // The table: write items and claim them (conditional update), nothing else: no read,
        // scan, query or delete, so a pod cannot list what other requests predicted.
        expect(dataStatements(t)[4].Action).toEqual([
          'dynamodb:BatchWriteItem',
          'dynamodb:UpdateItem',
        ]);
        const writes = dataStatements(t)[2].Action;
        expect(writes).toContain('s3:PutObject');
        expect(JSON.stringify(dataStatements(t))).not.toMatch(/Delete|ImportValue|"\*"/);
        // Metrics: PutMetricData only, only into the namespace the team alarms read.
        expect(podRolePolicy(t).find((s) => s.Sid === 'PublishServingMetrics')).toEqual({
          Sid: 'PublishServingMetrics',
          Effect: 'Allow',
          Action: 'cloudwatch:PutMetricData',
          Resource: '*',
          Condition: { StringEquals: { 'cloudwatch:namespace': 'MlPlatform/Serving' } },
        });
      }
    });

    test("one team's pod role cannot reach the other team's data", () => {
      // The stacks are separate: a reference to the other team's buckets could only be an
      // import or a literal name. Neither appears; the role is bound to its own namespace.
      for (const [t, namespace] of [
        [example, 'example-dev'],
        [other, 'other-dev'],
      ] as const) {
        const policy = JSON.stringify(podRolePolicy(t));
        expect(policy).not.toMatch(/Fn::ImportValue|arn:aws:s3/);
        t.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
          Namespace: namespace,
          ServiceAccount: 'inference',
          ClusterName: { 'Fn::ImportValue': Match.stringLikeRegexp('mlp-platform') },
        });
      }
      expect(JSON.stringify(example.toJSON())).not.toMatch(/other-dev/);
      expect(JSON.stringify(other.toJSON())).not.toMatch(/example-dev/);
    });

    test('API keys: generated at deploy, KMS encrypted, no value in the template', () => {
      example.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true },
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServingKey'), 'Arn'] },
        SecretString: Match.absent(),
      });
    });

    test('API keys rotate on the schedule of the team file, never at deploy, with a least-privilege function', () => {
      for (const [t, days, namespace] of [
        [example, 30, 'example-dev'],
        [other, 7, 'other-dev'],
      ] as const) {
        // GIVEN
        const secret = logicalId(t, 'AWS::SecretsManager::Secret', 'ServingApiKeys');
        const fn = logicalId(t, 'AWS::Lambda::Function', 'ServingApiKeyRotationFunction');
        const role = logicalId(t, 'AWS::IAM::Role', 'ServingApiKeyRotationRole');
        const logGroup = logicalId(t, 'AWS::Logs::LogGroup', 'ServingApiKeyRotationLogs');
        // THEN: the schedule (stage default 30 days, or the team file's), no rotation on deploy
        t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
        t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
          SecretId: { Ref: secret },
          RotationLambdaARN: { 'Fn::GetAtt': [fn, 'Arn'] },
          RotationRules: { ScheduleExpression: `rate(${days} days)` },
          RotateImmediatelyOnUpdate: false,
        });
        t.hasResourceProperties('AWS::Lambda::Function', {
          Runtime: 'nodejs24.x',
          Handler: 'index.handler',
          Role: { 'Fn::GetAtt': [role, 'Arn'] },
          LoggingConfig: { LogGroup: { Ref: logGroup } },
        });
        // Only Secrets Manager, only for this secret, may invoke it.
        t.hasResourceProperties('AWS::Lambda::Permission', {
          FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] },
          Principal: 'secretsmanager.amazonaws.com',
          SourceArn: { Ref: secret },
          SourceAccount: '111111111111',
        });
        // No managed policy; its own log group (KMS); this one secret; a random key.
        expect(
          t.findResources('AWS::IAM::Role')[role].Properties.ManagedPolicyArns,
        ).toBeUndefined();
        t.hasResourceProperties('AWS::Logs::LogGroup', {
          LogGroupName: `/mlp/${namespace}/api-key-rotation`,
          KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServingKey'), 'Arn'] },
        });
        const [policy] = Object.values(
          t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
        );
        expect(policy.Properties.PolicyDocument.Statement).toEqual([
          {
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
          },
          {
            Action: [
              'secretsmanager:DescribeSecret',
              'secretsmanager:GetSecretValue',
              'secretsmanager:PutSecretValue',
              'secretsmanager:UpdateSecretVersionStage',
            ],
            Effect: 'Allow',
            Resource: { Ref: secret },
          },
          { Action: 'secretsmanager:GetRandomPassword', Effect: 'Allow', Resource: '*' },
        ]);
        // The secret's key lets the function use it only through Secrets Manager.
        t.hasResourceProperties('AWS::KMS::Key', {
          KeyPolicy: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Principal: { AWS: { 'Fn::GetAtt': [role, 'Arn'] } },
                Condition: {
                  StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
                },
              }),
            ]),
          },
        });
      }
    });

    test('Prometheus may scrape the pods: scrape annotations, the monitoring namespace admitted on 8080', () => {
      // The team manifest with its CloudFormation tokens (image, ARNs) as placeholders.
      const [resource] = Object.values(
        example.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
      );
      const raw = resource.Properties.Manifest;
      const text =
        typeof raw === 'string'
          ? raw
          : (raw['Fn::Join'][1] as unknown[])
              .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
              .join('');
      const objects = JSON.parse(text) as {
        kind: string;
        metadata: { name: string };
        spec: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifest JSON
      }[];
      const find = (kind: string, name: string) =>
        objects.find((o) => o.kind === kind && o.metadata.name === name)!;
      expect(find('Deployment', 'inference').spec.template.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '8080',
        'prometheus.io/path': '/metrics',
      });
      expect(find('NetworkPolicy', 'allow-inference-ingress').spec.ingress).toContainEqual({
        from: expect.arrayContaining([
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': MONITORING_NAMESPACE },
            },
          },
        ]),
        ports: [{ protocol: 'TCP', port: 8080 }],
      });
    });

    test("store layout: the chart's SERVING_MODEL_SOURCE, the pod role's read grant and the layout module agree", () => {
      // GIVEN the synthesized team stack, with the models bucket's tokens rendered as its name
      const t = example;
      const models = Object.keys(t.findResources('AWS::S3::Bucket')).find((id) =>
        id.startsWith('DataLakeModels'),
      )!;
      const render = (v: unknown): string => {
        if (typeof v === 'string') return v;
        const o = v as Record<string, unknown>;
        if (o['Fn::Join']) return (o['Fn::Join'] as [string, unknown[]])[1].map(render).join('');
        if (JSON.stringify(o) === JSON.stringify({ Ref: models })) return 'models-bucket';
        if (JSON.stringify(o) === JSON.stringify({ 'Fn::GetAtt': [models, 'Arn'] }))
          return 'arn:aws:s3:::models-bucket';
        return '<token>';
      };
      const [resource] = Object.values(t.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
      const objects = JSON.parse(render(resource.Properties.Manifest)) as {
        kind: string;
        data?: Record<string, string>;
      }[];
      const source = objects.find((o) => o.kind === 'ConfigMap')!.data!.SERVING_MODEL_SOURCE;
      // IAM wildcards (`s3:GetObject*`, `.../models/*`) as regular expressions
      const glob = (pattern: string) =>
        new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const reads = podRolePolicy(t)
        .filter((s) => ([] as string[]).concat(s.Action).some((a) => glob(a).test('s3:GetObject')))
        .flatMap((s) => ([] as unknown[]).concat(s.Resource).map(render));
      const readable = (key: string) =>
        reads.some((pattern) => glob(pattern).test(`arn:aws:s3:::models-bucket/${key}`));

      // WHEN the publisher writes a version and the production alias where the layout says
      const model = 'churn'; // config/teams/example.yaml serving.modelName
      const written = [
        `${modelRoot(MODEL_STORE_PREFIX, model)}/${versionDir('v1')}/manifest.json`,
        `${modelRoot(MODEL_STORE_PREFIX, model)}/${aliasFile('production')}`,
      ];

      // THEN the service reads exactly those keys, and its role may read them
      expect(source).toBe(`s3://models-bucket/${modelRoot(MODEL_STORE_PREFIX, model)}`);
      for (const key of written) {
        const relative = key.slice(modelRoot(MODEL_STORE_PREFIX, model).length + 1);
        expect(`${source}/${relative}`).toBe(`s3://models-bucket/${key}`);
        expect(readable(key)).toBe(true);
      }
      // and nothing outside the store
      expect(readable('training/job-1/output/model.tar.gz')).toBe(false);
    });

    test('the chart is applied from the team stack to the platform cluster, after the role association', () => {
      const manifests = example.findResources('Custom::AWSCDK-EKS-KubernetesResource');
      const [id, manifest] = Object.entries(manifests)[0];
      expect(Object.keys(manifests)).toHaveLength(1);
      expect(manifest.DependsOn).toEqual(
        expect.arrayContaining([expect.stringMatching(/^ServingPodRoleAssociation/)]),
      );
      const body = JSON.stringify(manifest.Properties.Manifest);
      for (const kind of [
        'Namespace',
        'ResourceQuota',
        'NetworkPolicy',
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Ingress',
      ]) {
        expect(body).toContain(`\\"kind\\":\\"${kind}\\"`);
      }
      // The image comes from this stack's asset; the service token from the platform stack.
      expect(body).toMatch(/dkr\.ecr/);
      expect(manifest.Properties.ServiceToken).toEqual({
        'Fn::ImportValue': expect.stringMatching(/mlp-platform/),
      });
      expect(id).toMatch(/^ServingManifests/);
    });
  });

  describe('alarms (thresholds from config, every one notifies the team topic)', () => {
    test.each([
      // team file, HighErrorRate, HighLatency, LowConfidence, DataDrift, budget
      ['example', 'example-dev', 0.05, 100, 0.5, 0.25, 500],
      ['other', 'other-dev', 0.02, 250, 0.6, 0.3, 100],
    ])('%s', (_name, prefix, errorRate, latency, confidence, drift, budget) => {
      const t = prefix === 'example-dev' ? example : other;
      const [topic] = Object.keys(t.findResources('AWS::SNS::Topic'));
      const notifiesTopic = [{ Ref: topic }];
      for (const [name, threshold] of [
        ['HighErrorRate', errorRate],
        ['HighLatency', latency],
        ['LowConfidence', confidence],
        ['ServiceDown', 1],
        ['DataDrift', drift],
      ] as const) {
        t.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `${prefix}-${name}`,
          Threshold: threshold,
          AlarmActions: notifiesTopic,
        });
      }
      t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      t.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({ 'detail-type': ['SageMaker Training Job State Change'] }),
        Targets: Match.arrayWith([Match.objectLike({ Arn: { Ref: topic } })]),
      });
      t.hasResourceProperties('AWS::Budgets::Budget', {
        Budget: Match.objectLike({ BudgetLimit: { Amount: budget, Unit: 'USD' } }),
      });
      // ServiceDown watches this team's Service on the shared cluster.
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${prefix}-ServiceDown`,
        Dimensions: Match.arrayWith([
          { Name: 'ClusterName', Value: 'mlp-platform' },
          { Name: 'Namespace', Value: prefix },
        ]),
      });
    });
  });
});
