import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { MODEL_STORE_PREFIX, aliasFile, modelRoot } from '../../serving/src/store/layout';
import {
  APPROVAL_HANDLER_ENV,
  modelPackageDecisionPattern,
} from '../../training/launcher/lifecycle/approval-contract';
import type { DataLake } from '../data-lake';
import { acknowledge } from '../private/acknowledge';
import { allowLogsToUseKey } from '../private/logs-key';
import {
  NODE_LAMBDA_BUNDLING,
  NODE_LAMBDA_PROJECT,
  NODE_LAMBDA_RUNTIME,
  REPO_ROOT,
} from '../private/node-lambda';

const HANDLER = path.join(REPO_ROOT, 'training', 'launcher', 'lifecycle', 'approval-handler.ts');

export interface ModelApprovalProps {
  /** The team's data lake: the model store is in its `models` zone, under `models/`. */
  readonly dataLake: DataLake;
  /** The model whose store folder (`models/<modelName>`) the handler moves aliases in. */
  readonly modelName: string;
  /** The model package group whose approvals drive rollout. */
  readonly modelPackageGroupName: string;
  /** Name of the function (its name is the `updated_by` of the alias files it writes). */
  readonly functionName: string;
  /** Name of the handler's log group. */
  readonly logGroupName: string;
  /** KMS key that encrypts the log group (its policy is extended to let Logs use it). */
  readonly logEncryptionKey: kms.IKey;
  /**
   * Days the handler's logs are kept.
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
 * Registry approval drives rollout: an EventBridge rule on "SageMaker Model Package State
 * Change" of one model package group invokes a TypeScript Lambda (bundled by esbuild from npm,
 * never Docker) that runs the same promote code as `npm run model`: approving a package
 * promotes its version to production, rejecting the current candidate clears it
 * (training/launcher/lifecycle/approval.ts). The function may read only the model's aliases
 * and versions, write only its aliases, and describe only the group's packages.
 */
export class ModelApproval extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly rule: events.Rule;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ModelApprovalProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const root = modelRoot(MODEL_STORE_PREFIX, props.modelName);
    const aliases = `${root}/${path.posix.dirname(aliasFile('production'))}`;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    allowLogsToUseKey(
      this,
      props.logEncryptionKey,
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: props.logGroupName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      'AllowModelApprovalLogGroup',
    );

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Promotes ${props.modelName} when its model package is approved in ${props.modelPackageGroupName}`,
    });
    this.logGroup.grantWrite(role);
    const { dataLake } = props;
    dataLake.grantRead('models', role, `${aliases}/*`);
    dataLake.grantRead('models', role, `${root}/versions/*`);
    dataLake.grantWrite('models', role, `${aliases}/*`);
    dataLake.acknowledgeGrants(
      role,
      [
        { zone: 'models', prefix: aliases },
        { zone: 'models', prefix: `${root}/versions` },
      ],
      `Least privilege by prefix: the approval handler reads only ${aliases}/* and ${root}/versions/* of the team's models bucket (to check that a version exists) and writes only ${aliases}/* (object wildcards below those prefixes, and the S3/KMS action families of the grants on the team's own bucket and key; List is needed so that a missing alias reads as 404, not 403).`,
    );
    const packages = stack.formatArn({
      service: 'sagemaker',
      resource: 'model-package',
      resourceName: `${props.modelPackageGroupName}/*`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeGroupPackages',
        actions: ['sagemaker:DescribeModelPackage'],
        resources: [packages],
      }),
    );
    acknowledge(
      role,
      "Describe is limited to the versions of the team's own model package group (one ARN pattern, model-package/<group>/*, because SageMaker numbers a group's versions), and log writes to the streams of the handler's own log group.",
      `AwsSolutions-IAM5[Resource::${packages}]`,
      `AwsSolutions-IAM5[Resource::${stack.resolve(stack.getLogicalId(this.logGroup.node.defaultChild as logs.CfnLogGroup))}.Arn:*]`,
    );

    this.function = new nodejs.NodejsFunction(this, 'Resource', {
      functionName: props.functionName,
      description: `Promotes ${props.modelName} on model registry approval (${props.modelPackageGroupName})`,
      entry: HANDLER,
      handler: 'handler',
      ...NODE_LAMBDA_PROJECT,
      runtime: NODE_LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      role,
      logGroup: this.logGroup,
      environment: {
        [APPROVAL_HANDLER_ENV.bucket]: dataLake.bucket('models').bucketName,
        [APPROVAL_HANDLER_ENV.modelName]: props.modelName,
        [APPROVAL_HANDLER_ENV.kmsKeyArn]: dataLake.encryptionKey.keyArn,
        [APPROVAL_HANDLER_ENV.group]: props.modelPackageGroupName,
      },
      bundling: NODE_LAMBDA_BUNDLING,
    });

    this.rule = new events.Rule(this, 'OnStateChange', {
      description: `Approvals and rejections in ${props.modelPackageGroupName} move the ${props.modelName} aliases`,
      eventPattern: modelPackageDecisionPattern(props.modelPackageGroupName),
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
