import { stringify } from 'yaml';
import {
  derivePlatforms,
  GPU_SERVING_REFUSED,
  parseTeamFile,
  STAGE_DEFAULTS,
  type ConfigProblem,
} from '../../lib/config';
import { CERTIFICATE_ARN, servingTeamConfig, servingTeamFile } from '../helpers/teams';

function problemsOf(overrides: Record<string, unknown>): Pick<ConfigProblem, 'path' | 'message'>[] {
  const result = parseTeamFile('team.yaml', stringify(servingTeamFile(overrides)));
  if (!('problems' in result)) throw new Error('expected the file to be rejected');
  return result.problems.map(({ path, message }) => ({ path, message }));
}

const ingress = (extra: Record<string, unknown>) => ({
  serving: { ingress: { certificateArn: CERTIFICATE_ARN, ...extra } },
});

describe('cluster and serving config: bad files', () => {
  test.each<[string, Record<string, unknown>, string, string]>([
    [
      'a public endpoint open to the internet',
      { cluster: { endpointPublicCidrs: ['0.0.0.0/0'] } },
      'cluster.endpointPublicCidrs.0',
      'must not open the Kubernetes API to the whole internet: list your VPN or office ranges',
    ],
    [
      'a malformed CIDR',
      { cluster: { endpointPublicCidrs: ['203.0.113.0'] } },
      'cluster.endpointPublicCidrs.0',
      'must be an IPv4 CIDR like 203.0.113.0/24',
    ],
    [
      'an admin that is not a role ARN',
      { cluster: { adminRoleArns: ['arn:aws:iam::111111111111:user/alice'] } },
      'cluster.adminRoleArns.0',
      'must be an IAM role ARN like arn:aws:iam::123456789012:role/PlatformAdmin',
    ],
    [
      'a node group minimum above its maximum',
      { cluster: { nodes: { minSize: 5, maxSize: 3 } } },
      'cluster.nodes.maxSize',
      'must be >= cluster.nodes.minSize (5)',
    ],
    [
      'a malformed instance type',
      { cluster: { gpuNodes: { instanceTypes: ['g5 xlarge'] } } },
      'cluster.gpuNodes.instanceTypes.0',
      'must be an EC2 instance type like m6i.large',
    ],
    [
      'a misspelled cluster field',
      { cluster: { node: { minSize: 1 } } },
      'cluster.node',
      'is not a known field (check the spelling; unknown fields are errors)',
    ],
    [
      'no certificate',
      { serving: { modelName: 'churn' } },
      'serving.ingress.certificateArn',
      'is required: the service is only served over HTTPS (an ACM certificate in eu-west-1)',
    ],
    [
      'a certificate of another region',
      ingress({
        certificateArn:
          'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-4000-8000-000000000001',
      }),
      'serving.ingress.certificateArn',
      'must be a certificate in eu-west-1: a load balancer only uses certificates of its own region',
    ],
    [
      'an internet-facing load balancer without a client allow-list',
      ingress({ scheme: 'internet-facing' }),
      'serving.ingress.allowedClientCidrs',
      'is required for an internet-facing load balancer: list the client ranges (["0.0.0.0/0"] means the whole internet)',
    ],
    [
      'an unknown scheme',
      ingress({ scheme: 'public' }),
      'serving.ingress.scheme',
      'must be internal or internet-facing',
    ],
    [
      'GPUs per pod (the service runs ONNX Runtime on CPUs)',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, gpusPerPod: 1 } },
      'serving.gpusPerPod',
      GPU_SERVING_REFUSED,
    ],
    [
      'a GPU quota for the serving namespace',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, quota: { gpus: 2 } } },
      'serving.quota.gpus',
      GPU_SERVING_REFUSED,
    ],
    [
      'a negative GPU quota',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, quota: { gpus: -1 } } },
      'serving.quota.gpus',
      'Too small: expected number to be >=0',
    ],
    [
      'an API key rotation of more than a year',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, apiKeyRotationDays: 400 } },
      'serving.apiKeyRotationDays',
      'Too big: expected number to be <=365',
    ],
    [
      'a feedback window of half an hour',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, feedback: { windowHours: 0.5 } } },
      'serving.feedback.windowHours',
      'expected int, received number',
    ],
    [
      'an unknown feedback field',
      { serving: { ingress: { certificateArn: CERTIFICATE_ARN }, feedback: { ttl: 3 } } },
      'serving.feedback.ttl',
      'is not a known field (check the spelling; unknown fields are errors)',
    ],
    [
      'an accuracy threshold of 100%',
      {
        serving: { ingress: { certificateArn: CERTIFICATE_ARN } },
        monitoring: { lowAccuracyThreshold: 1 },
      },
      'monitoring.lowAccuracyThreshold',
      'Too big: expected number to be <1',
    ],
  ])('fails on %s', (_name, overrides, path, message) => {
    expect(problemsOf(overrides)).toEqual([{ path, message }]);
  });
});

describe('cluster and serving config: defaults', () => {
  test('API keys rotate every 30 days (90 in prod) unless the team file says otherwise', () => {
    const days = (extra: Record<string, unknown>) =>
      servingTeamConfig({ serving: { ingress: { certificateArn: CERTIFICATE_ARN } }, ...extra })
        .serving.apiKeyRotationDays;
    expect(days({ stage: 'dev' })).toBe(30);
    expect(days({ stage: 'staging' })).toBe(30);
    expect(days({ stage: 'prod' })).toBe(90);
    expect(
      servingTeamConfig({
        serving: { ingress: { certificateArn: CERTIFICATE_ARN }, apiKeyRotationDays: 7 },
      }).serving.apiKeyRotationDays,
    ).toBe(7);
  });

  test('feedback counts for 24 hours, the prediction table has PITR in prod only, LowAccuracy is 80% from 30 feedbacks', () => {
    const of = (extra: Record<string, unknown>) =>
      servingTeamConfig({ serving: { ingress: { certificateArn: CERTIFICATE_ARN } }, ...extra });
    expect(of({ stage: 'dev' }).serving.feedback).toEqual({
      windowHours: 24,
      pointInTimeRecovery: false,
    });
    expect(of({ stage: 'staging' }).serving.feedback).toEqual({
      windowHours: 24,
      pointInTimeRecovery: false,
    });
    expect(of({ stage: 'prod' }).serving.feedback).toEqual({
      windowHours: 24,
      pointInTimeRecovery: true,
    });
    const dev = of({ stage: 'dev' }).monitoring;
    expect([dev.lowAccuracyThreshold, dev.minFeedbackPerHour]).toEqual([0.8, 30]);
    expect(
      of({
        serving: {
          ingress: { certificateArn: CERTIFICATE_ARN },
          feedback: { windowHours: 72, pointInTimeRecovery: true },
        },
      }).serving.feedback,
    ).toEqual({ windowHours: 72, pointInTimeRecovery: true });
  });

  test('private endpoint, no admins, stage-sized CPU nodes and no GPU nodes by default', () => {
    const { cluster } = servingTeamConfig();
    expect(cluster).toEqual({
      endpointPublicCidrs: [],
      adminRoleArns: [],
      nodes: STAGE_DEFAULTS.dev.nodes,
      gpuNodes: undefined,
    });
    expect(servingTeamConfig({ stage: 'prod' }).cluster.nodes).toEqual(STAGE_DEFAULTS.prod.nodes);
  });

  test('a GPU node group takes stage defaults for what it leaves out; a raised minimum lifts the maximum', () => {
    const { cluster } = servingTeamConfig({ cluster: { gpuNodes: { minSize: 3 } } });
    expect(cluster.gpuNodes).toEqual({ instanceTypes: ['g5.xlarge'], minSize: 3, maxSize: 3 });
  });

  test('the namespace quota fits maxReplicas + 1 surge pod; ingress is internal', () => {
    const { serving } = servingTeamConfig({
      serving: {
        ingress: { certificateArn: CERTIFICATE_ARN },
        maxReplicas: 4,
        cpuMillicores: 500,
        memoryMiB: 1024,
      },
    });
    expect(serving.quota).toEqual({ cpu: 3, memoryGiB: 5 });
    expect(serving.ingress).toEqual({
      certificateArn: CERTIFICATE_ARN,
      scheme: 'internal',
      allowedClientCidrs: [],
    });
  });
});

describe('one cluster per account and region', () => {
  test('admin roles add up; node groups come from the most protective stage', () => {
    const dev = servingTeamConfig({
      team: 'alpha',
      cluster: { adminRoleArns: ['arn:aws:iam::111111111111:role/B'], gpuNodes: { maxSize: 1 } },
    });
    const prod = servingTeamConfig({
      team: 'beta',
      stage: 'prod',
      cluster: { adminRoleArns: ['arn:aws:iam::111111111111:role/A'] },
    });
    const [platform] = derivePlatforms([dev, prod]);
    expect(platform.cluster.adminRoleArns).toEqual([
      'arn:aws:iam::111111111111:role/A',
      'arn:aws:iam::111111111111:role/B',
    ]);
    expect(platform.cluster.nodes).toEqual(STAGE_DEFAULTS.prod.nodes);
    // Only the dev team asks for GPUs: the cluster gets its GPU group.
    expect(platform.cluster.gpuNodes).toEqual({
      instanceTypes: ['g5.xlarge'],
      minSize: 0,
      maxSize: 1,
    });
  });

  test('fails when teams sharing a cluster disagree on the public endpoint', () => {
    const a = servingTeamConfig({ team: 'alpha' });
    const b = {
      ...servingTeamConfig({ team: 'beta', cluster: { endpointPublicCidrs: ['203.0.113.0/24'] } }),
      sourceFile: 'beta.yaml',
    };
    expect(() => derivePlatforms([a, b])).toThrow(
      /beta\.yaml: cluster\.endpointPublicCidrs: must match test\.yaml \(\[\]\): teams in account 111111111111 eu-west-1 share one cluster/,
    );
  });
});
