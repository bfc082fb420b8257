import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { MODEL_STORE_PREFIX, modelRoot } from '../../serving/src/store/layout';
import { modelPackageDecisionPattern } from '../../training/launcher/lifecycle/approval-contract';
import {
  PIPELINE_DATA_FOLDER,
  PIPELINE_ERRORS,
  PIPELINE_HANDLER_ENV,
  type PipelinePolicy,
  type PipelineStep,
} from '../../training/launcher/pipeline/contract';
import type { Outcome } from '../../training/launcher/pipeline/summary';
import type { DataLake } from '../data-lake';
import { acknowledge } from '../private/acknowledge';
import {
  NODE_LAMBDA_BUNDLING,
  NODE_LAMBDA_PROJECT,
  NODE_LAMBDA_RUNTIME,
  REPO_ROOT,
} from '../private/node-lambda';
import { allowLogsToUseKey } from '../private/logs-key';
import { TRAINING_PREFIXES } from '../training/training-infra';
import { ONNX_RUNTIME_MODULE, OnnxRuntimeLayer } from './onnx-runtime-layer';

const HANDLER = path.join(REPO_ROOT, 'training', 'launcher', 'pipeline', 'handler.ts');

/** The step function's architecture, and so the ONNX Runtime binaries of its layer. */
const ARCHITECTURE = lambda.Architecture.ARM_64;

/** The SageMaker .sync integration's managed rule (Step Functions creates it on first use). */
const SAGEMAKER_SYNC_RULE = 'StepFunctionsGetEventsForSageMakerTrainingJobsRule';

/** Errors worth a retry with backoff: throttling and transient service errors of each step. */
const TRANSIENT_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailable',
];
/** Lambda steps: throttling and transient errors, retried with jittered exponential backoff. */
const LAMBDA_RETRY: sfn.RetryProps = {
  errors: TRANSIENT_LAMBDA_ERRORS,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  jitterStrategy: sfn.JitterType.FULL,
};
const TRANSIENT_SAGEMAKER_ERRORS = [
  'SageMaker.ThrottlingException',
  'SageMaker.AmazonSageMakerException',
  'ThrottlingException',
];

export interface RetrainingPipelineProps {
  /** Team and stage: the lock item's key, the handler's SSM lookups, the summary. */
  readonly team: string;
  readonly stage: string;
  /** `<team>-<stage>`-style prefix of the state machine, table and function names. */
  readonly resourcePrefix: string;
  /** The team's data lake: data from `features`, the model store in `models`. */
  readonly dataLake: DataLake;
  readonly modelName: string;
  readonly modelPackageGroupName: string;
  /** `manual`: the execution waits for the registry approval (training.approval). */
  readonly approval: 'manual' | 'auto';
  /** SSM path of the training contract (the handler reads the launcher's parameters there). */
  readonly trainingParameterPath: string;
  /** The role SageMaker training jobs run as (passed to CreateTrainingJob). */
  readonly trainingRole: iam.IRole;
  /** Every training job name of the team starts with it. */
  readonly trainingJobNamePrefix: string;
  /** The team topic: every outcome is notified there. */
  readonly topic: sns.ITopic;
  /** Encrypts the log groups and the lock table (the monitoring key). */
  readonly encryptionKey: kms.IKey;
  /** The gate's and the canary check's settings, and the canary and bake. */
  readonly policy: PipelinePolicy;
  /** Hours the execution waits for a registry approval (manual stages). */
  readonly approvalTimeout: Duration;
  /** The longest a training job may run, spot waits included (the Train state's timeout adds an hour). */
  readonly maxTrainingTime: Duration;
  /** EventBridge schedule expression of `training.retrainSchedule`; unset: no schedule. */
  readonly schedule?: string;
  /** The DataDrift alarm: its entering ALARM starts an execution. */
  readonly driftAlarm?: cloudwatch.IAlarm;
  /** Log group name prefix, e.g. `/ml-platform/<team>/<stage>`. */
  readonly logGroupPrefix: string;
  /**
   * Days the logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups and the lock table when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The retraining loop of one team environment (guide, phase 7.5): a Step Functions standard
 * workflow that takes a lock (one execution at a time), trains with the launcher's own job
 * request, gates the candidate against production, publishes and registers it with `npm run
 * model`'s code, waits for the registry approval where the stage asks for it, canaries it,
 * bakes, checks the candidate version's own metrics against production's, and promotes or
 * rolls back, notifying the team topic with a summary. Every failure is caught: the candidate
 * is cleared, production is left as it was, the topic is told.
 *
 * Steps run in one TypeScript Lambda (training/launcher/pipeline/handler.ts, bundled by local
 * esbuild) over the lifecycle library; ONNX Runtime comes from a layer so publish verifies the
 * bundle exactly as the CLI does.
 */
export class RetrainingPipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly function: nodejs.NodejsFunction;
  readonly lockTable: dynamodb.Table;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RetrainingPipelineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const key = props.encryptionKey;
    const stateMachineName = `${props.resourcePrefix}-retraining`;
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executionArns = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const logGroup = (name: string, sid: string) => {
      const logGroupName = `${props.logGroupPrefix}/${name}`;
      allowLogsToUseKey(
        this,
        key,
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        sid,
      );
      return new logs.LogGroup(this, `${sid}Logs`, {
        logGroupName,
        retention,
        encryptionKey: key,
        removalPolicy,
      });
    };

    this.lockTable = new dynamodb.Table(this, 'Lock', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });

    // The step function's role: each grant below is one step's need, on the team's own resources.
    const role = new iam.Role(this, 'StepRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the steps of the ${stateMachineName} retraining pipeline`,
    });
    const functionLogs = logGroup('retraining-steps', 'Steps');
    functionLogs.grantWrite(role);
    const { dataLake } = props;
    const root = modelRoot(MODEL_STORE_PREFIX, props.modelName);
    dataLake.grantRead('models', role, `${root}/*`);
    dataLake.grantWrite('models', role, `${root}/*`);
    dataLake.grantRead('models', role, `${TRAINING_PREFIXES.output}/*`);
    dataLake.grantRead('features', role, `${TRAINING_PREFIXES.data}/${PIPELINE_DATA_FOLDER}/*`);
    dataLake.acknowledgeGrants(
      role,
      [
        { zone: 'models', prefix: root },
        { zone: 'models', prefix: TRAINING_PREFIXES.output },
        { zone: 'features', prefix: `${TRAINING_PREFIXES.data}/${PIPELINE_DATA_FOLDER}` },
      ],
      `Least privilege by prefix: the pipeline's steps read and write only the model's store folder (${root}/*), read the training jobs' output (${TRAINING_PREFIXES.output}/*) and list the current data set (${TRAINING_PREFIXES.data}/${PIPELINE_DATA_FOLDER}/*) of the team's own buckets and key (object wildcards below those prefixes, and the S3/KMS action families of the grants).`,
    );
    this.lockTable.grantReadWriteData(role);
    props.topic.grantPublish(role);
    const packages = stack.formatArn({
      service: 'sagemaker',
      resource: 'model-package',
      resourceName: `${props.modelPackageGroupName}/*`,
    });
    const group = stack.formatArn({
      service: 'sagemaker',
      resource: 'model-package-group',
      resourceName: props.modelPackageGroupName,
    });
    const trainingJobs = stack.formatArn({
      service: 'sagemaker',
      resource: 'training-job',
      resourceName: `${props.trainingJobNamePrefix}*`,
    });
    const parameters = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: props.trainingParameterPath.replace(/^\//, ''),
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RegistryOfTheTeam',
        actions: [
          'sagemaker:CreateModelPackage',
          'sagemaker:DescribeModelPackage',
          'sagemaker:UpdateModelPackage',
          'sagemaker:ListModelPackages',
          'sagemaker:AddTags',
        ],
        resources: [group, packages],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TeamTrainingJobs',
        actions: ['sagemaker:DescribeTrainingJob'],
        resources: [trainingJobs],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingContract',
        actions: ['ssm:GetParametersByPath'],
        resources: [parameters, `${parameters}/*`],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ResumeAndInspectOwnExecutions',
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:DescribeExecution'],
        resources: [stateMachineArn, executionArns],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ServingMetrics',
        actions: ['cloudwatch:GetMetricData'],
        resources: ['*'],
      }),
    );

    const onnx = new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture: ARCHITECTURE });
    this.function = new nodejs.NodejsFunction(this, 'Steps', {
      functionName: `${props.resourcePrefix}-retraining-steps`,
      description: `Steps of the ${stateMachineName} retraining pipeline (lifecycle library)`,
      entry: HANDLER,
      handler: 'handler',
      ...NODE_LAMBDA_PROJECT,
      runtime: NODE_LAMBDA_RUNTIME,
      architecture: ARCHITECTURE,
      // Publish verifies the bundle through ONNX Runtime and unpacks it under /tmp.
      memorySize: 2048,
      ephemeralStorageSize: Size.mebibytes(2048),
      timeout: Duration.minutes(10),
      layers: [onnx.layer],
      role,
      logGroup: functionLogs,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        [PIPELINE_HANDLER_ENV.team]: props.team,
        [PIPELINE_HANDLER_ENV.stage]: props.stage,
        [PIPELINE_HANDLER_ENV.bucket]: dataLake.bucket('models').bucketName,
        [PIPELINE_HANDLER_ENV.modelName]: props.modelName,
        [PIPELINE_HANDLER_ENV.kmsKeyArn]: dataLake.encryptionKey.keyArn,
        [PIPELINE_HANDLER_ENV.group]: props.modelPackageGroupName,
        [PIPELINE_HANDLER_ENV.approval]: props.approval,
        [PIPELINE_HANDLER_ENV.lockTable]: this.lockTable.tableName,
        [PIPELINE_HANDLER_ENV.topicArn]: props.topic.topicArn,
        [PIPELINE_HANDLER_ENV.policy]: JSON.stringify(props.policy),
      },
      bundling: {
        ...NODE_LAMBDA_BUNDLING,
        // ONNX Runtime's native binding cannot be bundled: it comes from the layer.
        externalModules: [...NODE_LAMBDA_BUNDLING.externalModules, ONNX_RUNTIME_MODULE],
      },
    });
    acknowledge(
      role,
      "cloudwatch:GetMetricData supports no resource-level permission; it reads the team's own serving metrics for the canary check. The other wildcards are the versions of the team's own model package group (SageMaker numbers them), the team's training jobs by name prefix, its own training parameters, the executions of its own state machine, and the streams of its own log group.",
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${packages}]`,
      `AwsSolutions-IAM5[Resource::${trainingJobs}]`,
      `AwsSolutions-IAM5[Resource::${parameters}/*]`,
      `AwsSolutions-IAM5[Resource::${executionArns}]`,
      `AwsSolutions-IAM5[Resource::${stack.resolve(stack.getLogicalId(functionLogs.node.defaultChild as logs.CfnLogGroup))}.Arn:*]`,
    );

    this.logGroup = logGroup('retraining', 'StateMachine');
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      timeout: props.maxTrainingTime
        .plus(Duration.hours(1))
        .plus(props.approvalTimeout)
        .plus(Duration.minutes(props.policy.bakeMinutes * (props.policy.maxBakeExtensions + 1)))
        .plus(Duration.hours(2)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: `Retraining of ${props.modelName} (${props.team}/${props.stage}): train, gate, publish, canary, promote or roll back`,
    });
    const smRole = this.stateMachine.role;
    smRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TrainTeamJobs',
        actions: [
          'sagemaker:CreateTrainingJob',
          'sagemaker:DescribeTrainingJob',
          'sagemaker:StopTrainingJob',
          'sagemaker:AddTags',
        ],
        resources: [trainingJobs],
      }),
    );
    smRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SageMakerSyncRule',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: SAGEMAKER_SYNC_RULE,
          }),
        ],
      }),
    );
    smRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassTrainingRole',
        actions: ['iam:PassRole'],
        resources: [props.trainingRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
    );
    acknowledge(
      smRole,
      'Step Functions log delivery and X-Ray need these account-level actions on "*" (no resource-level permissions exist for them); SageMaker training is limited to the team\'s job name prefix; the Lambda grant covers the versions of the one step function.',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${trainingJobs}]`,
      `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
    );

    // Triggers: the schedule, the drift alarm, the registry's approval events (resume).
    const start = (trigger: string) =>
      new targets.SfnStateMachine(this.stateMachine, {
        input: events.RuleTargetInput.fromObject({ trigger }),
      });
    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Retrains ${props.modelName} on training.retrainSchedule`,
        schedule: events.Schedule.expression(props.schedule),
        targets: [start('schedule')],
      });
    }
    if (props.driftAlarm) {
      new events.Rule(this, 'OnDrift', {
        description: `Retrains ${props.modelName} when the DataDrift alarm enters ALARM`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: [props.driftAlarm.alarmArn],
          detail: { state: { value: ['ALARM'] } },
        },
        targets: [start('drift')],
      });
    }
    new events.Rule(this, 'OnApproval', {
      description: `Resumes a ${stateMachineName} execution waiting for its package's approval`,
      eventPattern: modelPackageDecisionPattern(props.modelPackageGroupName),
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }

  /** The workflow (docs: README "Retraining"). */
  private definition(props: RetrainingPipelineProps): sfn.IChainable {
    const fn = this.function;
    const step = (
      id: string,
      name: PipelineStep,
      input: Record<string, unknown>,
      resultPath: string | null,
      timeout = Duration.minutes(5),
    ) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject({ step: name, ...input }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath: resultPath ?? sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(timeout),
      });
      task.addRetry(LAMBDA_RETRY);
      return task;
    };
    const executionArn = sfn.JsonPath.executionId;

    // The end of every path: release the lock, then succeed, or fail after a caught error.
    const release = step('Release lock', 'release', { executionArn }, '$.released');
    release.addCatch(
      new sfn.Fail(this, 'Lock release failed', {
        comment: 'the lock is taken over once this execution has ended',
      }),
      { resultPath: '$.releaseError' },
    );
    const failed = new sfn.Fail(this, 'Failed', {
      error: 'RetrainingFailed',
      causePath: '$.error.Cause',
    });
    release.next(
      new sfn.Choice(this, 'Failed?')
        .when(sfn.Condition.isPresent('$.error'), failed)
        .otherwise(new sfn.Succeed(this, 'Done')),
    );
    const notifications = new Map<Outcome, sfn.IChainable>();
    const notify = (outcome: Outcome): sfn.IChainable => {
      const known = notifications.get(outcome);
      if (known) return known;
      const task = step(
        `Notify ${outcome}`,
        'notify',
        { outcome, executionArn, record: sfn.JsonPath.entirePayload },
        '$.notification',
      );
      task.addCatch(release, { resultPath: '$.notifyError' });
      task.next(release);
      notifications.set(outcome, task);
      return task;
    };

    const failure = step(
      'Clean up',
      'cleanup',
      { record: sfn.JsonPath.entirePayload },
      '$.cleanup',
    );
    failure.addCatch(notify('failed'), { resultPath: '$.cleanupError' });
    failure.next(notify('failed'));
    const guard = <T extends sfn.TaskStateBase | sfn.CustomState>(state: T): T => {
      state.addCatch(failure, { errors: ['States.ALL'], resultPath: '$.error' });
      return state;
    };

    const lock = step('Acquire lock', 'lock', { executionArn }, '$.lock');
    lock.addCatch(notify('failed'), { resultPath: '$.error' });
    const prepare = guard(step('Prepare training job', 'prepare', {}, '$.job'));
    const jobField = (f: string) => ({ [`${f}.$`]: `$.job.request.${f}` });
    const train = guard(
      new sfn.CustomState(this, 'Train', {
        stateJson: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync',
          Parameters: Object.assign(
            {},
            ...[
              'TrainingJobName',
              'RoleArn',
              'AlgorithmSpecification',
              'InputDataConfig',
              'OutputDataConfig',
              'ResourceConfig',
              'StoppingCondition',
              'EnableManagedSpotTraining',
              'CheckpointConfig',
              'VpcConfig',
              'EnableNetworkIsolation',
              'EnableInterContainerTrafficEncryption',
              'Environment',
              'HyperParameters',
              'Tags',
            ].map(jobField),
          ),
          ResultSelector: {
            'artifact.$': '$.ModelArtifacts.S3ModelArtifacts',
            'jobArn.$': '$.TrainingJobArn',
          },
          ResultPath: '$.training',
          TimeoutSeconds: props.maxTrainingTime.plus(Duration.hours(1)).toSeconds(),
        },
      }),
    );
    // A failed job is not retried (the notification says why); throttling and SageMaker's
    // transient errors are.
    train.addRetry({
      errors: TRANSIENT_SAGEMAKER_ERRORS,
      interval: Duration.seconds(30),
      backoffRate: 2,
      maxAttempts: 4,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const gate = guard(
      step(
        'Gate',
        'gate',
        { artifact: sfn.JsonPath.stringAt('$.training.artifact') },
        '$.gate',
        Duration.minutes(10),
      ),
    );
    const publish = guard(
      step(
        'Publish and register',
        'publish',
        {
          artifact: sfn.JsonPath.stringAt('$.training.artifact'),
          trainingJobArn: sfn.JsonPath.stringAt('$.training.jobArn'),
          executionArn,
        },
        '$.publish',
        Duration.minutes(10),
      ),
    );
    const awaitApproval = new tasks.LambdaInvoke(this, 'Wait for approval', {
      lambdaFunction: fn,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        step: 'await-approval' satisfies PipelineStep,
        token: sfn.JsonPath.taskToken,
        executionArn,
        packageArn: sfn.JsonPath.stringAt('$.publish.packageArn'),
      }),
      resultPath: '$.approval',
      taskTimeout: sfn.Timeout.duration(props.approvalTimeout),
      retryOnServiceExceptions: false,
    });
    awaitApproval.addRetry(LAMBDA_RETRY);
    const rejectLate = step(
      'Reject unapproved package',
      'cleanup',
      { record: sfn.JsonPath.entirePayload },
      '$.cleanup',
    );
    rejectLate.addCatch(notify('failed'), { resultPath: '$.error' });
    rejectLate.next(notify('approval-timeout'));
    awaitApproval.addCatch(rejectLate, {
      errors: ['States.Timeout'],
      resultPath: '$.approvalError',
    });
    awaitApproval.addCatch(notify('approval-rejected'), {
      errors: [PIPELINE_ERRORS.rejected],
      resultPath: '$.approvalError',
    });
    guard(awaitApproval);

    const canary = guard(
      step('Canary', 'canary', { version: sfn.JsonPath.stringAt('$.publish.version') }, '$.canary'),
    );
    const bake = new sfn.Wait(this, 'Bake', {
      time: sfn.WaitTime.duration(Duration.minutes(props.policy.bakeMinutes)),
    });
    const check = guard(
      step(
        'Canary check',
        'check',
        {
          version: sfn.JsonPath.stringAt('$.publish.version'),
          productionVersion: sfn.JsonPath.stringAt('$.gate.productionVersion'),
          extensions: sfn.JsonPath.numberAt('$.check.extensions'),
        },
        '$.check',
      ),
    );
    const promote = guard(
      step(
        'Promote',
        'promote',
        {
          version: sfn.JsonPath.stringAt('$.publish.version'),
          reason: sfn.JsonPath.stringAt('$.check.reason'),
        },
        '$.promote',
      ),
    );
    const promoteFirst = guard(
      step(
        'Promote first model',
        'promote',
        {
          version: sfn.JsonPath.stringAt('$.publish.version'),
          reason: 'first model, approved in the registry',
        },
        '$.promote',
      ),
    );
    const rollback = guard(
      step(
        'Roll back',
        'rollback',
        { reason: sfn.JsonPath.stringAt('$.check.reason') },
        '$.rollback',
      ),
    );

    const startCanary = canary
      .next(
        new sfn.Pass(this, 'Start bake', {
          result: sfn.Result.fromObject({ extensions: 0 }),
          resultPath: '$.check',
        }),
      )
      .next(bake)
      .next(check)
      .next(
        new sfn.Choice(this, 'Canary healthy?')
          .when(
            sfn.Condition.stringEquals('$.check.decision', 'promote'),
            promote.next(notify('promoted')),
          )
          .when(sfn.Condition.stringEquals('$.check.decision', 'extend'), bake)
          .otherwise(rollback.next(notify('rolled-back'))),
      );
    const afterApproval = new sfn.Choice(this, 'Production exists?')
      .when(sfn.Condition.isPresent('$.gate.productionVersion'), startCanary)
      .otherwise(promoteFirst.next(notify('first-model')));

    return lock.next(
      new sfn.Choice(this, 'Lock acquired?')
        .when(sfn.Condition.booleanEquals('$.lock.acquired', false), notify('skipped'))
        .otherwise(
          prepare
            .next(train)
            .next(gate)
            .next(
              new sfn.Choice(this, 'Gate passed?')
                .when(sfn.Condition.booleanEquals('$.gate.passed', false), notify('gate-rejected'))
                .otherwise(
                  publish.next(
                    new sfn.Choice(this, 'Published as production?')
                      .when(
                        sfn.Condition.booleanEquals('$.publish.madeProduction', true),
                        notify('first-model'),
                      )
                      .when(
                        sfn.Condition.stringEquals(
                          '$.publish.packageStatus',
                          'PendingManualApproval',
                        ),
                        awaitApproval.next(afterApproval),
                      )
                      .otherwise(afterApproval),
                  ),
                ),
            ),
        ),
    );
  }
}
