/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { PutParameterCommand, DeleteParameterCommand } from '@aws-sdk/client-ssm';
import { AliasConflictError } from '../../training/launcher/cli/errors';
import type { Lifecycle } from '../../training/launcher/lifecycle/context';
import { promote } from '../../training/launcher/lifecycle/promote';
import { DUMMY_CREDENTIALS, REGION, withoutCredentials, type Moto } from '../training/aws-fixtures';
import { recordingRuntime } from '../training/helpers';
import { main } from '../../training/launcher/model';
import {
  BUCKET,
  KMS_KEY,
  MODEL,
  TEAM,
  bundle,
  lifecycleOn,
  lifecycleSuite,
  model,
  motoS3,
  modelJson,
  sageMakerOf,
} from './fixtures';

async function alias(suite: { moto: { s3: S3Client } }, name: string) {
  try {
    const res = await suite.moto.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `models/churn/aliases/${name}.json` }),
    );
    return JSON.parse(await res.Body!.transformToString());
  } catch {
    return null;
  }
}

async function approvalOf(suite: { moto: Moto }, arn: string) {
  const res = await sageMakerOf(suite.moto).send(
    new DescribeModelPackageCommand({ ModelPackageName: arn }),
  );
  return res.ModelApprovalStatus;
}

async function aliasWrites(suite: { moto: { s3: S3Client } }): Promise<number> {
  const res = await suite.moto.s3.send(
    new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'models/churn/aliases/' }),
  );
  return (res.Versions ?? []).length;
}

describe('promote, rollback, status and list against moto (manual approval)', () => {
  const suite = lifecycleSuite('manual');
  const packages: Record<string, string> = {};

  beforeAll(async () => {
    // GIVEN three published versions, pending approval (a manual-approval stage)
    for (const v of ['v1', 'v2', 'v3']) {
      const r = await modelJson(
        suite.moto,
        'publish',
        bundle(v, ({ manifest }) => {
          manifest.created_at = `2026-12-0${v.slice(1)}T08:00:00Z`;
          manifest.metrics.test.accuracy = 0.7 + Number(v.slice(1)) / 100;
        }),
      );
      expect(r).toMatchObject({
        madeProduction: false,
        package: { status: 'PendingManualApproval' },
      });
      packages[v] = r.package.arn;
    }
  });

  test('status before any promotion: nothing serves yet', async () => {
    const { code, out } = await model(suite.moto, 'status');
    expect(code).toBe(0);
    expect(out).toBe('churn: nothing serves yet (no production alias): publish a model');
  });

  test('a canary needs a production version first', async () => {
    const { code, err } = await model(suite.moto, 'promote', 'v2', '--canary', '10');
    expect(code).toBe(2);
    expect(err).toEqual([
      'error: churn has no production version yet: promote one without --canary first',
    ]);
  });

  test('promote writes production with who, when and why, and approves the package', async () => {
    const r = await modelJson(suite.moto, 'promote', 'v1', '--reason', 'first model');
    expect(r).toMatchObject({
      version: 'v1',
      alias: 'production',
      changed: true,
      trafficPercent: 100,
    });
    expect(await alias(suite, 'production')).toEqual({
      version: 'v1',
      updated_at: '2026-12-01T10:00:00.000Z',
      updated_by: 'arn:aws:sts::123456789012:user/moto',
      reason: 'first model',
    });
    expect(await approvalOf(suite, packages.v1)).toBe('Approved');
    // AND the alias is written with the team key
    const res = await suite.moto.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'models/churn/aliases/production.json' }),
    );
    expect(res.SSEKMSKeyId).toBe(KMS_KEY);
  });

  test('promoting the production version again writes nothing', async () => {
    const before = await aliasWrites(suite);
    const r = await modelJson(suite.moto, 'promote', 'v1');
    expect(r).toMatchObject({ changed: false });
    expect(await aliasWrites(suite)).toBe(before);
  });

  test('promote --canary writes the candidate with its share and leaves the package pending', async () => {
    const { code, out } = await model(suite.moto, 'promote', 'v2', '--canary', '25');
    expect(code).toBe(0);
    expect(out).toBe(
      [
        'FIELD      VALUE',
        'candidate  v2 (25% of requests)',
        'before     none',
        'changed    yes',
      ].join('\n'),
    );
    expect(await alias(suite, 'candidate')).toEqual({
      version: 'v2',
      traffic_percent: 25,
      updated_at: '2026-12-01T10:00:00.000Z',
      updated_by: 'arn:aws:sts::123456789012:user/moto',
      reason: 'canary at 25%',
    });
    expect(await approvalOf(suite, packages.v2)).toBe('PendingManualApproval');
    expect((await alias(suite, 'production')).version).toBe('v1');
  });

  test('status shows each serving version with its share, metrics and approval', async () => {
    // GIVEN the service's per-version metrics in CloudWatch (what the pods publish)
    const cloudwatch = new CloudWatchClient({
      region: REGION,
      endpoint: suite.moto.url,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const put = (version: string, name: string, values: number[]) =>
      cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'MlPlatform/Serving',
          MetricData: values.map((Value, i) => ({
            MetricName: name,
            Value,
            Timestamp: new Date(Date.parse('2026-12-01T09:40:00Z') + i * 60_000),
            Dimensions: [
              { Name: 'Team', Value: TEAM },
              { Name: 'Stage', Value: 'dev' },
              { Name: 'Model', Value: MODEL },
              { Name: 'Version', Value: version },
            ],
          })),
        }),
      );
    await put('v1', 'Requests', [600, 900]);
    await put('v1', 'Errors', [3, 0]);
    await put('v1', 'LatencyP99', [12.5, 18.25]);
    await put('v1', 'MeanConfidence', [0.8, 0.9]);
    await put('v2', 'Requests', [200, 300]);
    await put('v2', 'Errors', [10, 15]);
    await put('v2', 'LatencyP99', [30, 22]);
    await put('v2', 'MeanConfidence', [0.7, 0.7]);
    // AND a data point outside the 30-minute window, which must not count
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'MlPlatform/Serving',
        MetricData: [
          {
            MetricName: 'Requests',
            Value: 1_000_000,
            Timestamp: new Date('2026-12-01T09:00:00Z'),
            Dimensions: [
              { Name: 'Team', Value: TEAM },
              { Name: 'Stage', Value: 'dev' },
              { Name: 'Model', Value: MODEL },
              { Name: 'Version', Value: 'v1' },
            ],
          },
        ],
      }),
    );
    // WHEN
    const report = await modelJson(suite.moto, 'status', '--minutes', '30');
    // THEN
    expect(report.versions).toEqual([
      expect.objectContaining({
        version: 'v1',
        alias: 'production',
        trafficPercent: 75,
        requests: 1500,
        errorRate: 0.002,
        latencyP99Ms: 18.25,
        meanConfidence: expect.closeTo(0.85, 10),
        approval: 'Approved',
        reason: 'first model',
      }),
      expect.objectContaining({
        version: 'v2',
        alias: 'candidate',
        trafficPercent: 25,
        requests: 500,
        errorRate: 0.05,
        latencyP99Ms: 30,
        meanConfidence: expect.closeTo(0.7, 10),
        approval: 'PendingManualApproval',
      }),
    ]);
    const table = await model(suite.moto, 'status', '--minutes', '30');
    const lines = table.out.split('\n');
    expect(lines[0]).toMatch(
      /^VERSION +ALIAS +TRAFFIC +REQUESTS\(30m\) +ERRORS +P99_MS +CONFIDENCE +APPROVAL +UPDATED +BY +REASON$/,
    );
    expect(lines[1]).toMatch(
      /^v1 +production +75% +1500 +0\.20% +18\.3 +0\.850 +Approved +2026-12-01T10:00:00\.000Z +arn:aws:sts::123456789012:user\/moto +first model$/,
    );
    expect(lines[2]).toMatch(
      /^v2 +candidate +25% +500 +5\.00% +30\.0 +0\.700 +PendingManualApproval +/,
    );
  });

  test('list shows store and registry versions with test metrics, newest first', async () => {
    const { code, out } = await model(suite.moto, 'list');
    expect(code).toBe(0);
    expect(out.split('\n')).toEqual([
      'VERSION  CREATED               ALIAS       STORE  REGISTRY               ACCURACY  F1      ROC_AUC',
      'v3       2026-12-03T08:00:00Z  -           yes    PendingManualApproval  0.7300    0.5300  0.7707',
      'v2       2026-12-02T08:00:00Z  candidate   yes    PendingManualApproval  0.7200    0.5300  0.7707',
      'v1       2026-12-01T08:00:00Z  production  yes    Approved               0.7100    0.5300  0.7707',
    ]);
    const rows = await modelJson(suite.moto, 'list');
    expect(rows[2]).toMatchObject({
      version: 'v1',
      inStore: true,
      packageArn: packages.v1,
      testMetrics: { accuracy: 0.71, n: 1000 },
    });
  });

  test('of two concurrent promotes exactly one wins; the loser writes nothing and says why', async () => {
    // GIVEN two promotions that both read production before either writes (a barrier holds
    // each alias PutObject until both have reached it)
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const contender = (): Lifecycle => {
      const s3 = motoS3(suite.moto);
      s3.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'PutObjectCommand') {
            if (++arrived === 2) release();
            await bothRead;
          }
          return next(args);
        },
        { step: 'initialize' },
      );
      return lifecycleOn(suite.moto, s3);
    };
    // WHEN
    const results = await Promise.allSettled([
      promote(contender(), 'v2', { reason: 'a' }),
      promote(contender(), 'v3', { reason: 'b' }),
    ]);
    // THEN exactly one wins and production names the winner
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(AliasConflictError);
    expect(lost[0].reason.message).toBe(
      `s3://${BUCKET}/models/churn/aliases/production.json changed while this command ran ` +
        '(another promote, rollback or approval moved it first); nothing was written: run status and try again',
    );
    const winner = (won[0] as PromiseFulfilledResult<{ version: string }>).value.version;
    expect((await alias(suite, 'production')).version).toBe(winner);
    // AND the loser's package was not approved
    const loser = winner === 'v2' ? 'v3' : 'v2';
    expect(await approvalOf(suite, packages[loser])).toBe('PendingManualApproval');
    expect(await approvalOf(suite, packages[winner])).toBe('Approved');
  });

  test('rollback while a canary serves ends the canary: candidate cleared, production kept', async () => {
    // GIVEN production moved to v2, then v3 (whichever won the race), and a canary of v2
    await modelJson(suite.moto, 'promote', 'v2');
    await modelJson(suite.moto, 'promote', 'v3');
    await modelJson(suite.moto, 'promote', 'v2', '--canary', '10');
    // WHEN
    const { code, out } = await model(suite.moto, 'rollback', '--reason', 'error rate');
    // THEN
    expect(code).toBe(0);
    expect(out.split('\n')).toEqual([
      'FIELD        VALUE',
      'rolled back  canary v2 (its share is 0% now)',
      'production   v3 (100% of requests)',
      `rejected     ${packages.v2}`,
    ]);
    expect(await alias(suite, 'candidate')).toMatchObject({
      version: 'v2',
      traffic_percent: 0,
      reason: 'canary v2 rolled back: error rate',
      updated_by: 'arn:aws:sts::123456789012:user/moto',
    });
    expect((await alias(suite, 'production')).version).toBe('v3');
    expect(await approvalOf(suite, packages.v2)).toBe('Rejected');
  });

  test('rollback with no canary moves production back to its previous version', async () => {
    // GIVEN a production history that ends with v2, then v3 (the test before)
    const history = await suite.moto.s3.send(
      new ListObjectVersionsCommand({
        Bucket: BUCKET,
        Prefix: 'models/churn/aliases/production.json',
      }),
    );
    expect(history.Versions!.length).toBeGreaterThanOrEqual(3);
    const winner = 'v2';
    // WHEN
    const { code, out } = await model(suite.moto, 'rollback', '--reason', 'p99 regression');
    // THEN production is on the version before v3 in the alias history
    expect(code).toBe(0);
    expect(await alias(suite, 'production')).toEqual({
      version: winner,
      updated_at: '2026-12-01T10:00:00.000Z',
      updated_by: 'arn:aws:sts::123456789012:user/moto',
      reason: 'rollback from v3: p99 regression',
    });
    expect(out).toContain(`rolled back  production v3`);
    expect(out).toContain(`production   ${winner} (100% of requests)`);
    expect(await approvalOf(suite, packages.v3)).toBe('Rejected');
    expect(await approvalOf(suite, packages[winner])).toBe('Approved');
    // AND status shows only production now
    const report = await modelJson(suite.moto, 'status');
    expect(report.versions).toEqual([
      expect.objectContaining({ version: winner, alias: 'production', trafficPercent: 100 }),
    ]);
    // AND a second rollback goes back once more, to the version before
    expect((await modelJson(suite.moto, 'rollback')).to).toBe('v3');
  });

  describe('user errors: one line naming the problem, exit code 2, nothing changed', () => {
    test.each([
      [['promote'], /^error: promote needs VERSION \(usage: npm run model -- promote VERSION\)$/],
      [['promote', 'v9'], /^error: version v9 of churn is not in the store: publish it first/],
      [['promote', '../v1'], /^error: '\.\.\/v1' is not a model version/],
      [
        ['promote', 'v2', '--canary', '150'],
        /^error: --canary \(flag\) must be a number in \(0, 100\], got '150'$/,
      ],
      [
        ['promote', 'v2', '--canary', '100'],
        /^error: --canary must be a share between 0 and 100 \(exclusive\), got 100$/,
      ],
      [['status', '--canary', '5'], /^error: --canary applies to promote only, not status$/],
      [
        ['deploy'],
        /^error: unknown command 'deploy': use one of publish, promote, rollback, status, list$/,
      ],
      [[], /^error: a command is required: one of publish, promote, rollback, status, list/],
      [['list', '--bogus'], /^error: Unknown option '--bogus'/],
    ])('%j', async (args, message) => {
      const before = await aliasWrites(suite);
      const { code, err } = await model(suite.moto, ...args);
      expect(code).toBe(2);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(message);
      expect(await aliasWrites(suite)).toBe(before);
    });

    test('a stack that is not deployed (its lifecycle parameters missing)', async () => {
      await suite.moto.ssm.send(
        new DeleteParameterCommand({ Name: `/ml-platform/${TEAM}/dev/training/approval` }),
      );
      try {
        const { code, err } = await model(suite.moto, 'promote', 'v1');
        expect(code).toBe(2);
        expect(err).toEqual([
          "error: the team stack for team 'fraud' stage 'dev' is not deployed in eu-west-1 " +
            '(or predates the model lifecycle: deploy it again): missing SSM parameter /ml-platform/fraud/dev/training/approval',
        ]);
      } finally {
        await suite.moto.ssm.send(
          new PutParameterCommand({
            Name: `/ml-platform/${TEAM}/dev/training/approval`,
            Value: 'manual',
            Type: 'String',
          }),
        );
      }
    });

    test('an unknown team', async () => {
      const runtime = recordingRuntime(DUMMY_CREDENTIALS);
      const code = await main(
        ['list', '--team', 'nobody', '--region', REGION, '--endpoint-url', suite.moto.url],
        runtime,
      );
      const err = runtime.err;
      expect(code).toBe(2);
      expect(err[0]).toMatch(
        /^error: unknown team 'nobody' in eu-west-1: no SSM parameters under \/ml-platform\/nobody\//,
      );
    });

    test('no credentials', async () => {
      const before = await aliasWrites(suite);
      const { code, err } = await withoutCredentials(() => model(suite.moto, 'promote', 'v1'));
      expect(code).toBe(2);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(
        /^error: no valid AWS credentials while reading SSM parameters under \/ml-platform\/fraud\/dev\/ \(.*\): run `aws sso login`/,
      );
      expect(await aliasWrites(suite)).toBe(before);
    });
  });
});
