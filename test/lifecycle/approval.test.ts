/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeModelPackageCommand,
  SageMakerClient,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { handleModelPackageStateChange } from '../../training/launcher/lifecycle/approval';
import { APPROVAL_HANDLER_ENV } from '../../training/launcher/lifecycle/approval-contract';
import {
  BUCKET,
  KMS_KEY,
  GROUP,
  bundle,
  lifecycleOn,
  lifecycleSuite,
  modelJson,
  motoS3,
  sageMakerOf,
} from './fixtures';

/** The event EventBridge delivers (the handler reads the package ARN and group from it). */
function stateChange(arn: string, group = GROUP) {
  return {
    source: 'aws.sagemaker',
    'detail-type': 'SageMaker Model Package State Change',
    detail: { ModelPackageArn: arn, ModelPackageGroupName: group, ModelApprovalStatus: 'Approved' },
  };
}

async function alias(s3: S3Client, name: string) {
  const res = await s3.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: `models/churn/aliases/${name}.json` }),
  );
  return JSON.parse(await res.Body!.transformToString());
}

describe('approval Lambda handler against moto (manual approval)', () => {
  const suite = lifecycleSuite('manual');
  const arn: Record<string, string> = {};
  /** What the registry console does when a person approves or rejects a package. */
  const decide = async (a: string, status: 'Approved' | 'Rejected', description?: string) => {
    const sagemaker = sageMakerOf(suite.moto);
    const { CustomerMetadataProperties } = await sagemaker.send(
      new DescribeModelPackageCommand({ ModelPackageName: a }),
    );
    await sagemaker.send(
      new UpdateModelPackageCommand({
        ModelPackageArn: a,
        ModelApprovalStatus: status,
        ApprovalDescription: description,
        // SageMaker keeps a package's properties on update; moto 5.2.1 drops them unless sent.
        CustomerMetadataProperties,
      }),
    );
  };

  /** The handler, as the Lambda runs it, on the state change event of package `a`. */
  const handle = (a: string) =>
    handleModelPackageStateChange(lifecycleOn(suite.moto), stateChange(a));

  beforeAll(async () => {
    for (const v of ['v1', 'v2', 'v3'])
      arn[v] = (await modelJson(suite.moto, 'publish', bundle(v))).package.arn;
  });

  test('a pending package is ignored', async () => {
    const outcome = await handle(arn.v1);
    expect(outcome).toEqual({
      action: 'ignored',
      version: 'v1',
      why: 'approval status PendingManualApproval',
    });
  });

  test('approving a package in the registry promotes it to production', async () => {
    // GIVEN a person approves v1 in SageMaker (the console calls UpdateModelPackage)
    await decide(arn.v1, 'Approved', 'reviewed the model card');
    // WHEN the state change event reaches the handler
    const outcome = await handle(arn.v1);
    // THEN production names v1, saying it came from the registry
    expect(outcome).toEqual({ action: 'promoted', version: 'v1', why: 'production was unset' });
    expect(await alias(suite.moto.s3, 'production')).toEqual({
      version: 'v1',
      updated_at: '2026-12-01T10:05:00.000Z',
      updated_by: 'lambda:mlp-fraud-dev-model-approval',
      reason: expect.stringMatching(
        /^approved in the model registry( by .+)?: reviewed the model card$/,
      ),
    });
  });

  test('the event of a promote’s own approval finds production there already (no loop)', async () => {
    // GIVEN the CLI promoted v2, which approved its package and so emits an event
    await modelJson(suite.moto, 'promote', 'v2');
    // WHEN that event arrives
    const outcome = await handle(arn.v2);
    // THEN nothing is written
    expect(outcome).toEqual({
      action: 'already-production',
      version: 'v2',
      why: 'production already names it',
    });
    expect((await alias(suite.moto.s3, 'production')).reason).toBe('promoted to production');
  });

  test('rejecting the current candidate clears it', async () => {
    await modelJson(suite.moto, 'promote', 'v3', '--canary', '20');
    await decide(arn.v3, 'Rejected', 'bias review failed');
    const outcome = await handle(arn.v3);
    expect(outcome).toEqual({
      action: 'candidate-cleared',
      version: 'v3',
      why: 'the rejected version was the candidate',
    });
    expect(await alias(suite.moto.s3, 'candidate')).toMatchObject({
      version: 'v3',
      traffic_percent: 0,
      reason: expect.stringMatching(/^package rejected in the model registry/),
    });
    expect((await alias(suite.moto.s3, 'production')).version).toBe('v2');
  });

  test('rejecting a version that is not the candidate changes nothing', async () => {
    await decide(arn.v1, 'Rejected');
    const outcome = await handle(arn.v1);
    expect(outcome).toMatchObject({ action: 'ignored', version: 'v1' });
    expect((await alias(suite.moto.s3, 'production')).version).toBe('v2');
  });

  test('a package of another group is ignored without a call', async () => {
    const outcome = await handleModelPackageStateChange(
      lifecycleOn(suite.moto),
      stateChange('arn:aws:sagemaker:eu-west-1:123456789012:model-package/other/1', 'other'),
    );
    expect(outcome).toEqual({ action: 'ignored', why: 'package of group other' });
  });
});

describe('approval Lambda handler against moto (automatic approval)', () => {
  const suite = lifecycleSuite('auto');

  test('a package approved at publish is not promoted: it is only publishable', async () => {
    await modelJson(suite.moto, 'publish', bundle('v1'));
    const second = await modelJson(suite.moto, 'publish', bundle('v2'));
    expect(second.package.status).toBe('Approved');
    const outcome = await handleModelPackageStateChange(
      lifecycleOn(suite.moto),
      stateChange(second.package.arn),
    );
    expect(outcome).toEqual({
      action: 'ignored',
      version: 'v2',
      why: 'approved automatically at publish',
    });
    expect((await alias(motoS3(suite.moto), 'production')).version).toBe('v1');
  });
});

describe('approval Lambda entry point (SDK boundary)', () => {
  // Mocked only here: mockClient patches every client of the class.
  let s3: ReturnType<typeof mockClient>;
  let sagemaker: ReturnType<typeof mockClient>;
  const saved = { ...process.env };
  beforeAll(() => {
    s3 = mockClient(S3Client);
    sagemaker = mockClient(SageMakerClient);
  });
  afterAll(() => {
    s3.restore();
    sagemaker.restore();
    process.env = saved;
  });

  test('reads its store and group from the environment its construct sets', async () => {
    // GIVEN the environment of the deployed function
    Object.assign(process.env, {
      [APPROVAL_HANDLER_ENV.bucket]: 'mlp-fraud-prod-models',
      [APPROVAL_HANDLER_ENV.modelName]: 'churn',
      [APPROVAL_HANDLER_ENV.kmsKeyArn]: KMS_KEY,
      [APPROVAL_HANDLER_ENV.group]: 'mlp-fraud-prod-churn',
      AWS_LAMBDA_FUNCTION_NAME: 'mlp-fraud-prod-model-approval',
      AWS_REGION: 'eu-west-1',
    });
    const packageArn =
      'arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlp-fraud-prod-churn/4';
    sagemaker.on(DescribeModelPackageCommand).resolves({
      ModelPackageArn: packageArn,
      ModelApprovalStatus: 'Approved',
      ApprovalDescription: 'ok',
      CustomerMetadataProperties: { 'ml-platform:version': 'v4' },
    });
    // What the handler reads of a GetObject body.
    const body = (text: string) =>
      ({ transformToByteArray: async () => new Uint8Array(Buffer.from(text)) }) as never;
    s3.on(GetObjectCommand, { Key: 'models/churn/versions/v4/manifest.json' }).resolves({
      Body: body('{"version":"v4"}'),
    });
    s3.on(GetObjectCommand, { Key: 'models/churn/aliases/production.json' }).resolves({
      Body: body('{"version":"v3"}'),
      ETag: '"etag-of-v3"',
    });
    s3.on(GetObjectCommand, { Key: 'models/churn/aliases/candidate.json' }).rejects(
      Object.assign(new Error('no such key'), { name: 'NoSuchKey' }),
    );
    s3.on(PutObjectCommand).resolves({});
    // WHEN
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const { handler } = await import('../../training/launcher/lifecycle/approval-handler');
    const outcome = await handler(stateChange(packageArn, 'mlp-fraud-prod-churn'));
    const logged = log.mock.calls.map((c) => JSON.parse(c[0]));
    log.mockRestore();
    // THEN it logs one structured line per event
    expect(logged).toEqual([
      { event: packageArn, action: 'promoted', version: 'v4', why: 'production was v3' },
    ]);
    // AND it promoted through conditional writes to the configured bucket, with its key
    expect(outcome).toEqual({ action: 'promoted', version: 'v4', why: 'production was v3' });
    expect(sagemaker.commandCalls(DescribeModelPackageCommand)[0].args[0].input).toEqual({
      ModelPackageName: packageArn,
    });
    expect(sagemaker.commandCalls(UpdateModelPackageCommand)).toHaveLength(0);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({
      Bucket: 'mlp-fraud-prod-models',
      Key: 'models/churn/aliases/production.json',
      IfMatch: '"etag-of-v3"',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KMS_KEY,
      ContentType: 'application/json',
    });
    expect(JSON.parse(String(puts[0].Body))).toEqual({
      version: 'v4',
      updated_at: expect.any(String),
      updated_by: 'lambda:mlp-fraud-prod-model-approval',
      reason: 'approved in the model registry: ok',
    });
  });
});
