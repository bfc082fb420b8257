import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../private/acknowledge';
import { NODE_LAMBDA_BUNDLING, NODE_LAMBDA_PROJECT, NODE_LAMBDA_RUNTIME } from '../private/node-lambda';
import { allowLogsToUseKey } from '../private/logs-key';

export interface ApiKeyRotationProps {
  /** The API-keys secret (one key per line) to rotate. */
  readonly secret: secretsmanager.Secret;
  /** The secret's key: it also encrypts the function's log group. */
  readonly encryptionKey: kms.IKey;
  /** Name of the function's log group, e.g. `/mlp/<namespace>/api-key-rotation`. */
  readonly logGroupName: string;
  /**
   * Time between rotations; the previous key stays valid for one more interval.
   * @default Duration.days(30)
   */
  readonly schedule?: Duration;
  /**
   * Retention of the function's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Rotates the inference service's API keys on a schedule with a Secrets Manager rotation
 * function (api-key-rotation-handler.ts): each rotation puts a new key first and keeps the
 * newest previous key, so a client has one rotation interval to pick up the new key before
 * its old one stops working. The pods see the new value without a restart (the CSI driver
 * re-fetches, the service re-reads the file).
 *
 * The function's role may only describe, read, put and re-stage this one secret (with its
 * KMS key, through Secrets Manager), ask Secrets Manager for a random key, and write its
 * own log group (KMS encrypted). A deploy never rotates: the first rotation is `schedule`
 * after the schedule is created.
 */
export class ApiKeyRotation extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly schedule: secretsmanager.RotationSchedule;

  constructor(scope: Construct, id: string, props: ApiKeyRotationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.encryptionKey,
      removalPolicy,
    });
    allowLogsToUseKey(
      this,
      props.encryptionKey,
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: props.logGroupName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      'AllowApiKeyRotationLogs',
    );
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy: logs go to one
    // log group only.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Rotates the API keys secret of ${props.logGroupName}`,
    });
    logGroup.grantWrite(role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, 'api-key-rotation-handler.ts'),
      handler: 'handler',
      runtime: NODE_LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      role,
      logGroup,
      description: 'Secrets Manager rotation of the inference service API keys: new key first, previous key kept',
      ...NODE_LAMBDA_PROJECT,
      bundling: NODE_LAMBDA_BUNDLING,
    });

    this.schedule = props.secret.addRotationSchedule('Rotation', {
      rotationLambda: this.function,
      automaticallyAfter: props.schedule ?? Duration.days(30),
      rotateImmediatelyOnUpdate: false,
    });
    // addRotationSchedule lets secretsmanager.amazonaws.com invoke the function for any
    // secret; pin it to this one (confused-deputy guard).
    for (const child of this.function.node.children) {
      if (child instanceof lambda.CfnPermission) {
        child.sourceAccount = stack.account;
        child.sourceArn = props.secret.secretArn;
      }
    }

    acknowledge(
      role,
      'secretsmanager:GetRandomPassword (added by addRotationSchedule; the function makes each new key with it) supports no resource-level permission and reads no secret.',
      'AwsSolutions-IAM5[Resource::*]',
    );
  }
}
