import { Template, Match } from 'aws-cdk-lib/assertions';
import validator from 'asl-validator';
import { buildApp, teamConfig } from '../helpers/teams';
import { definitionOf, pipelineStack } from '../pipeline/pipeline-fixtures';

type Json = Record<string, unknown>;

describe('RetrainingPipeline', () => {
  const { template } = pipelineStack({
    schedule: 'rate(7 days)',
    approval: 'manual',
  });
  const definition = definitionOf(template);
  const states = definition.States as Record<string, Json>;

  test('its definition is valid Amazon States Language (asl-validator)', () => {
    const { isValid, errors } = validator(JSON.parse(JSON.stringify(definition)) as object);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  test('every Task state has a timeout and a retry policy with backoff', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(12);
    for (const [name, state] of tasks) {
      expect({ name, timeout: typeof state.TimeoutSeconds }).toEqual({ name, timeout: 'number' });
      const retry = state.Retry as Json[];
      expect({ name, retries: retry?.length > 0 }).toEqual({ name, retries: true });
      for (const r of retry)
        expect(r).toMatchObject({ BackoffRate: 2, MaxAttempts: expect.any(Number) });
    }
  });

  test('every state that does work catches any failure into the clean-up path', () => {
    const work = [
      'Prepare training job',
      'Train',
      'Gate',
      'Publish and register',
      'Wait for approval',
      'Canary',
      'Canary check',
      'Promote',
      'Roll back',
    ];
    for (const name of work) {
      const catches = states[name].Catch as { ErrorEquals: string[]; Next: string }[];
      expect({ name, last: catches.at(-1) }).toEqual({
        name,
        last: { ErrorEquals: ['States.ALL'], Next: 'Clean up', ResultPath: '$.error' },
      });
    }
    expect(states['Clean up'].Next).toBe('Notify failed');
  });

  test('trains with the launcher job request through the SageMaker .sync integration', () => {
    expect(states.Train).toMatchObject({
      Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync',
      Parameters: {
        'TrainingJobName.$': '$.job.request.TrainingJobName',
        'HyperParameters.$': '$.job.request.HyperParameters',
      },
      // 48 hours of training (spot waits included) plus one.
      TimeoutSeconds: 49 * 3600,
    });
  });

  test('waits for the registry approval with a task token and the configured timeout', () => {
    expect(states['Wait for approval']).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      TimeoutSeconds: 72 * 3600,
      Parameters: { Payload: { step: 'await-approval', 'token.$': '$$.Task.Token' } },
    });
  });

  test('logs at level ALL to a KMS-encrypted log group, with X-Ray tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'mlp-fraud-dev-retraining',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/ml-platform/fraud/dev/retraining',
      KmsKeyId: Match.anyValue(),
    });
  });

  test('starts on the retrain schedule and when the DataDrift alarm enters ALARM', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(7 days)',
      Targets: [Match.objectLike({ Input: '{"trigger":"schedule"}' })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        resources: [Match.anyValue()],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [Match.objectLike({ Input: '{"trigger":"drift"}' })],
    });
  });

  test("its roles cannot touch another team's buckets or packages", () => {
    // GIVEN the pipeline of team fraud; THEN every S3, SageMaker and SSM resource its roles name
    // is fraud's own: its stack's buckets and key, its group, its job prefix, its parameters.
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Json[] } } }).Properties.PolicyDocument
          .Statement,
    );
    const text = (v: unknown) => JSON.stringify(v);
    for (const s of statements) {
      const actions = ([] as string[]).concat(s.Action as string);
      const resources = ([] as unknown[]).concat(s.Resource);
      if (actions.some((a) => a.startsWith('s3:') || a.startsWith('kms:')))
        for (const r of resources) expect(text(r)).toMatch(/DataLake|Key/);
      if (actions.some((a) => a.startsWith('sagemaker:')))
        for (const r of resources)
          expect(text(r)).toMatch(/mlp-fraud-dev-churn|training-job\/fraud-dev-\*/);
      if (actions.some((a) => a.startsWith('ssm:')))
        for (const r of resources) expect(text(r)).toContain('ml-platform/fraud/dev/training');
      if (actions.includes('iam:PassRole'))
        expect(s.Condition).toEqual({
          StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
        });
    }
    expect(text(statements)).not.toMatch(/mlp-search|search-dev/);
  });

  test('a team file with a pipeline section synthesizes the whole loop with zero unacknowledged cdk-nag findings', () => {
    const { app } = buildApp([
      teamConfig({
        team: 'fraud',
        stage: 'prod',
        training: { retrainSchedule: 'cron(0 3 ? * MON *)' },
        pipeline: { gate: { primaryFloor: 0.6 } },
      }),
    ]);
    const assembly = app.synth();
    const stack = assembly.getStackByName('mlp-fraud-prod');
    const team = Template.fromJSON(stack.template as Json);
    team.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    team.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/prod/training/pipeline/state-machine-arn',
    });
    team.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 ? * MON *)' });
    // A failed, timed-out or aborted execution notifies the team topic (beyond the pipeline's
    // own notifications), and the dashboard shows the executions and the per-version figures.
    team.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [Match.anyValue()], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('MonitoringTopic') } })],
    });
    const [dashboard] = Object.values(team.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard);
    expect(body).toContain('Retraining executions (per hour)');
    expect(body).toContain('ExecutionsFailed');
    for (const title of ['Requests', 'Errors', 'p99 latency', 'Low-confidence predictions'])
      expect(body).toContain(`${title} per version`);
    // Each a SEARCH over the per-version series of this team's model.
    expect(body).toContain("SEARCH('{MlPlatform/Serving,Team,Stage,Model,Version} MetricName=");
  });
});
