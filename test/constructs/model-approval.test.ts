import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DataLake } from '../../constructs/data-lake';
import { ModelApproval } from '../../constructs/lifecycle';
import { addSecurityChecks } from '../../lib/nag';
import { testApp } from '../helpers/teams';

const GROUP = 'mlp-fraud-prod-churn';

function synth() {
  const app = testApp();
  const stack = new Stack(app, 'Test', { env: { account: '222222222222', region: 'us-east-1' } });
  const dataLake = new DataLake(stack, 'Lake');
  const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
  const approval = new ModelApproval(stack, 'ModelApproval', {
    dataLake,
    modelName: 'churn',
    modelPackageGroupName: GROUP,
    functionName: 'mlp-fraud-prod-model-approval',
    logGroupName: '/ml-platform/fraud/prod/model-approval',
    logEncryptionKey: key,
    logRetention: logs.RetentionDays.ONE_YEAR,
  });
  return { app, stack, dataLake, key, approval, template: Template.fromStack(stack) };
}

/** The statements of the handler role's policies, resolved. */
function roleStatements(template: Template): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties
        .PolicyDocument.Statement,
  );
}

describe('ModelApproval', () => {
  const { template, stack, dataLake, key } = synth();
  const id = (c: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(c.node.defaultChild as never);

  test('the rule sends only approvals and rejections of the team’s group to the function', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: [GROUP], ModelApprovalStatus: ['Approved', 'Rejected'] },
      },
      Targets: [
        Match.objectLike({
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
  });

  test('runs on the newest Node.js runtime of the installed aws-cdk-lib', () => {
    const newest = Object.keys(lambda.Runtime)
      .map((name) => /^NODEJS_(\d+)_X$/.exec(name)?.[1])
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => b - a)[0];
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: `nodejs${newest}.x`,
      Handler: 'index.handler',
      Environment: {
        Variables: {
          MODEL_STORE_BUCKET: { Ref: id(dataLake.bucket('models')) },
          MODEL_NAME: 'churn',
          MODEL_STORE_KMS_KEY_ARN: { 'Fn::GetAtt': [id(dataLake.encryptionKey), 'Arn'] },
          MODEL_PACKAGE_GROUP: GROUP,
        },
      },
    });
  });

  test('may read only the model’s aliases and versions and write only its aliases', () => {
    const statements = roleStatements(template);
    const models = id(dataLake.bucket('models'));
    const objects = (prefix: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [models, 'Arn'] }, `/models/churn/${prefix}/*`]],
    });
    const s3 = statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
    const puts = s3.filter((s) => JSON.stringify(s.Action).includes('s3:PutObject'));
    expect(puts).toHaveLength(1);
    expect(puts[0].Resource).toEqual(objects('aliases'));
    const reads = s3.filter((s) => JSON.stringify(s.Action).includes('s3:GetObject'));
    expect(reads.flatMap((s) => [s.Resource].flat())).toEqual(
      expect.arrayContaining([
        objects('aliases'),
        objects('versions'),
        { 'Fn::GetAtt': [models, 'Arn'] },
      ]),
    );
    for (const s of s3) expect(JSON.stringify(s.Action)).not.toMatch(/s3:Delete|s3:\*/);
    const sagemaker = statements.filter((s) => JSON.stringify(s.Action).includes('sagemaker:'));
    expect(sagemaker).toEqual([
      expect.objectContaining({
        Action: 'sagemaker:DescribeModelPackage',
        Resource: 'arn:aws:sagemaker:us-east-1:222222222222:model-package/mlp-fraud-prod-churn/*',
      }),
    ]);
    // AND it has no managed policy (no blanket AWSLambdaBasicExecutionRole)
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('logs to its own KMS-encrypted log group with the configured retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/ml-platform/fraud/prod/model-approval',
      RetentionInDays: 365,
      KmsKeyId: { 'Fn::GetAtt': [id(key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('ModelApprovalLogs') } },
    });
  });

  /** The bundled handler: the staged asset folder of the function's code. */
  function bundled(): { key: string; code: string } {
    const { app: a, template: t } = synth();
    const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Code: { S3Key: string } };
    };
    const key = fn.Properties.Code.S3Key;
    const dir = path.join(a.synth().directory, `asset.${key.replace(/\.zip$/, '')}`);
    return { key, code: readFileSync(path.join(dir, 'index.js'), 'utf8') };
  }

  test('bundles with local esbuild (no Docker): the same asset on every synth', () => {
    const first = bundled();
    expect(bundled().key).toBe(first.key);
    expect(first.code).toMatch(
      /SageMaker Model Package State Change|handleModelPackageStateChange/,
    );
  });

  test('the bundle holds neither ONNX Runtime nor the bundle verifier', () => {
    expect(bundled().code).not.toMatch(/onnxruntime|InferenceSession|LoadedModel/);
  });

  test('is cdk-nag clean', () => {
    const { app: nagApp } = synth();
    addSecurityChecks(nagApp);
    expect(() => nagApp.synth({ force: true })).not.toThrow();
  });
});
