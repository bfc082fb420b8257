import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { testApp } from '../helpers/teams';
import { DATA_ZONES, DataLake, type DataLakeProps } from '../../constructs/data-lake';

function synth(
  props: DataLakeProps = {},
  extend: (stack: Stack, lake: DataLake) => void = () => {},
): { stack: Stack; lake: DataLake; template: Template } {
  const stack = new Stack(testApp(), 'Test');
  const lake = new DataLake(stack, 'Lake', props);
  extend(stack, lake);
  return { stack, lake, template: Template.fromStack(stack) };
}

describe('DataLake', () => {
  const { template, stack, lake } = synth();
  const zoneBuckets = template.findResources('AWS::S3::Bucket', {
    Properties: {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }),
        ],
      },
    },
  });

  test('creates one KMS-encrypted bucket per zone and a log bucket', () => {
    expect(Object.keys(zoneBuckets)).toHaveLength(DATA_ZONES.length);
    template.resourceCountIs('AWS::S3::Bucket', DATA_ZONES.length + 1);
  });

  test('uses one customer managed key with rotation', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const keyId = stack.getLogicalId(lake.encryptionKey.node.defaultChild as never);
    for (const bucket of Object.values(zoneBuckets)) {
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]).toEqual({
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
        },
      });
    }
  });

  test('every bucket is versioned, blocks public access and disables ACLs', () => {
    for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.OwnershipControls).toEqual({
        Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
      });
    }
  });

  test('every bucket denies non-TLS and TLS below 1.2', () => {
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(DATA_ZONES.length + 1);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      );
    }
  });

  test('zones log access to the log bucket under their own prefix', () => {
    const logBucketId = stack.getLogicalId(lake.accessLogsBucket.node.defaultChild as never);
    const prefixes = Object.values(zoneBuckets).map((b) => {
      expect(b.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logBucketId });
      return b.Properties.LoggingConfiguration.LogFilePrefix;
    });
    expect(prefixes.sort()).toEqual(['features/', 'models/', 'processed/', 'raw/']);
  });

  test('lifecycle aborts uploads, expires old versions, tiers all zones but models', () => {
    for (const zone of DATA_ZONES) {
      const bucket = zoneBuckets[stack.getLogicalId(lake.bucket(zone).node.defaultChild as never)];
      const rules = bucket.Properties.LifecycleConfiguration.Rules;
      expect(rules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            NoncurrentVersionExpiration: { NoncurrentDays: 90 },
            Status: 'Enabled',
          }),
        ]),
      );
      const tiering = rules.find((r: { Id: string }) => r.Id === 'tiering');
      if (zone === 'models') expect(tiering).toBeUndefined();
      else
        expect(tiering.Transitions).toEqual([
          { StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 30 },
        ]);
    }
  });

  test('data is retained by default', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key']) {
      for (const r of Object.values(template.findResources(type))) {
        expect(r.DeletionPolicy).toBe('Retain');
        expect(r.UpdateReplacePolicy).toBe('Retain');
      }
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('object lock on the raw zone only, and glacier for raw', () => {
    const t = synth({
      rawObjectLock: { mode: 'compliance', days: 365 },
      lifecycle: { rawGlacierDays: 180 },
    });
    const locked = t.template.findResources('AWS::S3::Bucket', {
      Properties: { ObjectLockEnabled: true },
    });
    expect(Object.keys(locked)).toEqual([
      t.stack.getLogicalId(t.lake.bucket('raw').node.defaultChild as never),
    ]);
    const raw = Object.values(locked)[0];
    expect(raw.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
    });
    expect(raw.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Transitions: [
            { StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 30 },
            { StorageClass: 'GLACIER', TransitionInDays: 180 },
          ],
        }),
      ]),
    );
  });

  test('a throwaway lake is destroyed and emptied with the stack', () => {
    const t = synth({ removalPolicy: RemovalPolicy.DESTROY });
    for (const r of Object.values(t.template.findResources('AWS::S3::Bucket'))) {
      expect(r.DeletionPolicy).toBe('Delete');
    }
    t.template.resourceCountIs('Custom::S3AutoDeleteObjects', DATA_ZONES.length + 1);
  });

  test('grantRead and grantWrite cover the zone, the prefix and the key, nothing else', () => {
    const t = synth({}, (stack, lake) => {
      const role = new iam.Role(stack, 'Reader', {
        assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      });
      lake.grantRead('features', role, 'team/*');
      lake.grantWrite('models', role, 'candidates/*');
    });
    const template = t.template;
    const id = (zone: 'features' | 'models') =>
      t.stack.getLogicalId(t.lake.bucket(zone).node.defaultChild as never);
    const keyId = t.stack.getLogicalId(t.lake.encryptionKey.node.defaultChild as never);
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policy.Properties.PolicyDocument.Statement;
    const resources = JSON.stringify(statements.map((s: { Resource: unknown }) => s.Resource));
    expect(resources).toContain(`{"Fn::GetAtt":["${id('features')}","Arn"]},"/team/*"`);
    expect(resources).toContain(`{"Fn::GetAtt":["${id('models')}","Arn"]},"/candidates/*"`);
    expect(resources).toContain(`{"Fn::GetAtt":["${keyId}","Arn"]}`);
    for (const zone of ['raw', 'processed'] as const) {
      expect(resources).not.toContain(
        t.stack.getLogicalId(t.lake.bucket(zone).node.defaultChild as never),
      );
    }
    const actions = statements.flatMap((s: { Action: string | string[] }) => s.Action);
    expect(actions).not.toContain('s3:DeleteObject*');
    expect(actions).not.toContain('s3:*');
  });

  test('fails on a lifecycle that moves raw data to Glacier before tiering', () => {
    expect(() => synth({ lifecycle: { intelligentTieringDays: 60, rawGlacierDays: 30 } })).toThrow(
      'Test/Lake: lifecycle.rawGlacierDays (30) must be greater than intelligentTieringDays (60)',
    );
  });

  test('fails on object lock with a destroy removal policy', () => {
    expect(() =>
      synth({
        removalPolicy: RemovalPolicy.DESTROY,
        rawObjectLock: { mode: 'governance', days: 1 },
      }),
    ).toThrow(/rawObjectLock cannot be combined with RemovalPolicy.DESTROY/);
  });

  test('fails on negative days', () => {
    expect(() => synth({ lifecycle: { noncurrentVersionDays: -1 } })).toThrow(
      'Test/Lake: lifecycle.noncurrentVersionDays must be a whole number of days >= 0, got -1',
    );
  });
});
