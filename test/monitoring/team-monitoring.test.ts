import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  SERVING_DIMENSIONS,
  SERVING_METRICS,
  SERVING_METRICS_NAMESPACE,
  TeamMonitoring,
  type TeamMonitoringProps,
} from '../../constructs/monitoring';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function props(overrides: Partial<TeamMonitoringProps> = {}): TeamMonitoringProps {
  return {
    team: 'fraud',
    stage: 'prod',
    alarmEmails: ['oncall@example.com', 'lead@example.com'],
    service: { modelName: 'fraud', clusterName: 'mlp-platform', namespace: 'fraud-prod' },
    thresholds: { errorRate: 0.02, latencyP99Ms: 250, lowConfidence: 0.6, driftPsi: 0.3 },
    monthlyBudgetUsd: 1500,
    ...overrides,
  };
}

function build(overrides: Partial<TeamMonitoringProps> = {}) {
  const stack = new Stack(new App(), 'Team', { env: ENV });
  const monitoring = new TeamMonitoring(stack, 'Monitoring', props(overrides));
  return { stack, monitoring, template: Template.fromStack(stack) };
}

const topicRef = (template: Template) => ({
  Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0],
});

describe('TeamMonitoring alarms', () => {
  const { template } = build();
  const topic = topicRef(template);

  test.each([
    ['HighErrorRate', 0.02, 'GreaterThanThreshold', 5, 'notBreaching'],
    ['HighLatency', 250, 'GreaterThanThreshold', 5, 'notBreaching'],
    ['LowConfidence', 0.6, 'LessThanThreshold', 10, 'notBreaching'],
    ['ServiceDown', 1, 'LessThanThreshold', 1, 'breaching'],
    ['DataDrift', 0.3, 'GreaterThanThreshold', 1, 'ignore'],
    ['LowAccuracy', 0.8, 'LessThanThreshold', 1, 'notBreaching'],
  ])(
    '%s: threshold %p from props, notifies the topic',
    (name, threshold, operator, periods, missing) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `fraud-prod-${name}`,
        Threshold: threshold,
        ComparisonOperator: operator,
        EvaluationPeriods: periods,
        TreatMissingData: missing,
        AlarmActions: [topic],
        OKActions: [topic],
      });
    },
  );

  test('exactly these six metric alarms, each with the topic as action', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(6);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([topic]);
  });

  test('every serving alarm reads the [Team, Stage, Model] series, never a per-version one', () => {
    // The service publishes each value under [Team, Stage, Model] and [..., Version]; an alarm
    // on the version set would watch one version and go silent at the next promotion.
    const servingMetrics = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .flatMap((a) => [
        a.Properties,
        ...(a.Properties.Metrics ?? []).map((m: any) => m.MetricStat?.Metric ?? {}), // eslint-disable-line @typescript-eslint/no-explicit-any -- template JSON
      ])
      .filter((m) => m.Namespace === SERVING_METRICS_NAMESPACE);
    expect(servingMetrics.length).toBeGreaterThanOrEqual(5);
    for (const m of servingMetrics)
      expect(m.Dimensions.map((d: { Name: string }) => d.Name).sort()).toEqual(
        [...SERVING_DIMENSIONS].sort(),
      );
  });

  test('HighErrorRate is 5xx / requests, every minute for 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-HighErrorRate',
      DatapointsToAlarm: 5,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(requests > 0, errors / requests, 0)' }),
        Match.objectLike({
          Id: 'errors',
          MetricStat: Match.objectLike({
            Stat: 'Sum',
            Period: 60,
            Metric: Match.objectLike({
              Namespace: SERVING_METRICS_NAMESPACE,
              MetricName: 'Errors',
              Dimensions: [
                { Name: 'Model', Value: 'fraud' },
                { Name: 'Stage', Value: 'prod' },
                { Name: 'Team', Value: 'fraud' },
              ],
            }),
          }),
        }),
      ]),
    });
  });

  test('LowAccuracy is the fleet-wide correct / (correct + incorrect) of an hour, judged from the minimum feedback', () => {
    const { template } = build({
      thresholds: { ...props().thresholds, lowAccuracy: 0.9, minFeedbackPerHour: 50 },
    });
    const feedback = (id: string, metric: string) =>
      Match.objectLike({
        Id: id,
        ReturnData: false,
        MetricStat: {
          Stat: 'Sum',
          Period: 3600,
          Metric: {
            Namespace: SERVING_METRICS_NAMESPACE,
            MetricName: metric,
            Dimensions: [
              { Name: 'Model', Value: 'fraud' },
              { Name: 'Stage', Value: 'prod' },
              { Name: 'Team', Value: 'fraud' },
            ],
          },
        },
      });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-LowAccuracy',
      Threshold: 0.9,
      AlarmDescription:
        'fraud/prod: live accuracy below 90% over an hour of feedback (at least 50 labelled predictions, all replicas)',
      Metrics: [
        Match.objectLike({
          Expression: 'IF(correct + incorrect >= 50, correct / (correct + incorrect), 1)',
          ReturnData: true,
        }),
        feedback('correct', SERVING_METRICS.feedbackCorrect),
        feedback('incorrect', SERVING_METRICS.feedbackIncorrect),
      ],
    });
  });

  test('HighLatency, LowConfidence and DataDrift read the serving metrics with their statistic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-HighLatency',
      Namespace: SERVING_METRICS_NAMESPACE,
      MetricName: 'LatencyP99',
      Statistic: 'Maximum',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-LowConfidence',
      MetricName: 'MeanConfidence',
      Statistic: 'Average',
      Period: 60,
      DatapointsToAlarm: 10,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-DataDrift',
      MetricName: 'MaxFeatureDriftPsi',
      Statistic: 'Maximum',
    });
  });

  test('ServiceDown watches the ready pods of the Kubernetes Service for 1 minute', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-ServiceDown',
      Namespace: 'ContainerInsights',
      MetricName: 'service_number_of_running_pods',
      Statistic: 'Minimum',
      Period: 60,
      Dimensions: Match.arrayWith([
        { Name: 'ClusterName', Value: 'mlp-platform' },
        { Name: 'Namespace', Value: 'fraud-prod' },
        { Name: 'Service', Value: 'inference' },
      ]),
    });
  });

  test('defaults: 5% errors, 100 ms p99, 0.5 confidence, 0.25 PSI, 80% accuracy from 30 feedbacks an hour', () => {
    const t = build({ thresholds: undefined }).template;
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fraud-prod-LowAccuracy',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: 'IF(correct + incorrect >= 30, correct / (correct + incorrect), 1)',
        }),
      ]),
    });
    for (const [name, threshold] of [
      ['HighErrorRate', 0.05],
      ['HighLatency', 100],
      ['LowConfidence', 0.5],
      ['DataDrift', 0.25],
      ['LowAccuracy', 0.8],
    ] as const) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `fraud-prod-${name}`,
        Threshold: threshold,
      });
    }
  });

  test.each([
    // [errorRate, latencyP99Ms, lowConfidence, driftPsi], then what each description says
    [
      [0.07, 100, 0.5, 0.25],
      ['7%', '100 ms', '0.5', '0.25'],
    ],
    [
      [0.29, 1250, 0.3, 0.1],
      ['29%', '1,250 ms', '0.3', '0.1'],
    ],
    [
      [0.001, 99.5, 0.57, 0.15],
      ['0.1%', '99.5 ms', '0.57', '0.15'],
    ],
    [
      [0.0015, 0.1 + 0.2, 0.1 + 0.7, 1 / 3],
      ['0.15%', '0.3 ms', '0.8', '0.333333'],
    ],
    [
      [0.123456789, 40, 0.999, 2],
      ['12.3457%', '40 ms', '0.999', '2'],
    ],
  ])('alarm descriptions print thresholds %p in a human form', (values, printed) => {
    const [errorRate, latencyP99Ms, lowConfidence, driftPsi] = values;
    const t = build({ thresholds: { errorRate, latencyP99Ms, lowConfidence, driftPsi } }).template;
    const descriptions = Object.fromEntries(
      Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => [
        a.Properties.AlarmName,
        a.Properties.AlarmDescription,
      ]),
    );
    const [errors, latency, confidence, drift] = printed;
    expect(descriptions).toMatchObject({
      'fraud-prod-HighErrorRate': `fraud/prod: more than ${errors} of requests answered 5xx for 5 minutes`,
      'fraud-prod-HighLatency': `fraud/prod: p99 latency above ${latency} for 5 minutes`,
      'fraud-prod-LowConfidence': `fraud/prod: mean prediction confidence below ${confidence} for 10 minutes`,
      'fraud-prod-DataDrift': `fraud/prod: max feature drift (PSI) above ${drift}`,
    });
  });

  test('TrainingJobFailed: failed SageMaker jobs with the team prefix go to the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Training Job State Change'],
        detail: {
          TrainingJobName: [{ prefix: 'fraud-prod-' }],
          TrainingJobStatus: ['Failed'],
        },
      },
      Targets: [Match.objectLike({ Arn: topic, InputTransformer: Match.anyValue() })],
    });
  });
});

describe('TeamMonitoring training jobs on AWS Batch', () => {
  const QUEUE = 'arn:aws:batch:eu-west-1:123456789012:job-queue/fraud-prod-gpu';
  function withQueue() {
    const stack = new Stack(new App(), 'Team', { env: ENV });
    const trainingJobQueue = batch.JobQueue.fromJobQueueArn(stack, 'Queue', QUEUE);
    const monitoring = new TeamMonitoring(stack, 'Monitoring', props({ trainingJobQueue }));
    return { stack, monitoring, template: Template.fromStack(stack) };
  }
  const { stack, monitoring, template } = withQueue();

  test('TrainingJobFailed: failed Batch jobs of the team queue and prefix go to the topic, readably', () => {
    // THEN the rule matches the final FAILED state of the team's jobs on the team's queue
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: { source: ['aws.batch'], detail: { status: ['FAILED'] } } },
    });
    const [rule] = Object.values(rules);
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.batch'],
      'detail-type': ['Batch Job State Change'],
      detail: {
        jobQueue: [QUEUE],
        jobName: [{ prefix: 'fraud-prod-' }],
        status: ['FAILED'],
      },
    });
    // AND its one target is the topic, with the job's name, id and reason in words
    expect(rule.Properties.Targets).toHaveLength(1);
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual(topicRef(template));
    expect(target.InputTransformer).toEqual({
      InputPathsMap: {
        'detail-jobName': '$.detail.jobName',
        'detail-jobId': '$.detail.jobId',
        'detail-statusReason': '$.detail.statusReason',
      },
      InputTemplate:
        '"fraud/prod: training job <detail-jobName> (AWS Batch, job <detail-jobId>) failed: <detail-statusReason>"',
    });
  });

  test('succeeded Batch jobs are matched by a rule without targets, for the runs metric', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.batch'],
        detail: { jobQueue: [QUEUE], jobName: [{ prefix: 'fraud-prod-' }], status: ['SUCCEEDED'] },
      },
      Targets: Match.absent(),
    });
  });

  test('the failed and finished metrics add the Batch rule to the SageMaker rule, hours without matches counting 0', () => {
    const ruleName = (r: { ruleName: string }) => stack.resolve(r.ruleName);
    for (const [metric, expression, rules] of [
      [
        monitoring.metricTrainingJobsFailed(),
        'FILL(sagemakerFailed, 0) + FILL(batchFailed, 0)',
        [monitoring.trainingJobFailedRule, monitoring.batchJobFailedRule!],
      ],
      [
        monitoring.metricTrainingJobsFinished(),
        'FILL(sagemakerFinished, 0) + FILL(batchSucceeded, 0)',
        [monitoring.trainingJobFinishedRule, monitoring.batchJobSucceededRule!],
      ],
    ] as const) {
      const math = metric.toMetricConfig().mathExpression!;
      expect(math.expression).toBe(expression);
      expect(math.period).toBe(3600);
      expect(
        Object.values(math.usingMetrics).map((m) => {
          const stat = m.toMetricConfig().metricStat!;
          return [stat.namespace, stat.metricName, stat.statistic, stack.resolve(stat.dimensions)];
        }),
      ).toEqual(
        rules.map((r) => [
          'AWS/Events',
          'TriggeredRules',
          'Sum',
          [{ name: 'RuleName', value: ruleName(r) }],
        ]),
      );
    }
  });

  test('without a queue there are no Batch rules and the metrics read SageMaker alone', () => {
    const { template: plain, monitoring: m } = build();
    expect(
      Object.keys(
        plain.findResources('AWS::Events::Rule', {
          Properties: { EventPattern: { source: ['aws.batch'] } },
        }),
      ),
    ).toEqual([]);
    expect(m.metricTrainingJobsFailed().toMetricConfig().mathExpression?.expression).toBe(
      'FILL(sagemakerFailed, 0)',
    );
  });
});

describe('TeamMonitoring topic and key', () => {
  const { template } = build();

  test('topic is encrypted with the customer key and refuses non-TLS publishing', () => {
    const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0];
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'budgets.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': ENV.account } },
          }),
        ]),
      },
    });
  });

  test('key rotates and lets CloudWatch and Budgets encrypt for this account only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com'] },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': ENV.account } },
          }),
        ]),
      },
    });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  test('each alarm email is subscribed', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  test('serving log group is encrypted and kept for the configured retention', () => {
    const t = build({ logRetention: logs.RetentionDays.THREE_MONTHS }).template;
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/ml-platform/fraud/prod/serving',
      RetentionInDays: 90,
      KmsKeyId: Match.anyValue(),
    });
  });

  test('uses a key you bring instead of creating one', () => {
    // GIVEN
    const stack = new Stack(new App(), 'Byok', { env: ENV });
    const key = new kms.Key(stack, 'SharedKey', { enableKeyRotation: true });
    // WHEN
    const m = new TeamMonitoring(stack, 'Monitoring', props({ encryptionKey: key }));
    // THEN
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KMS::Key', 1);
    expect(m.encryptionKey).toBe(key);
  });

  test('warns when an imported key must already allow the publishers', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    const key = kms.Key.fromKeyArn(
      stack,
      'Key',
      'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
    );
    new TeamMonitoring(stack, 'Monitoring', props({ encryptionKey: key }));
    Annotations.fromStack(stack).hasWarning(
      '/Imported/Monitoring',
      Match.stringLikeRegexp('imported'),
    );
  });

  test('a throwaway stage can destroy the key and log group', () => {
    const t = build({ removalPolicy: RemovalPolicy.DESTROY }).template;
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });
});

describe('TeamMonitoring budget and dashboard', () => {
  test('monthly budget on the team and stage tags notifies the topic', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: {
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: 1500, Unit: 'USD' },
        FilterExpression: {
          And: [
            { Tags: { Key: 'ml-platform:team', Values: ['fraud'], MatchOptions: ['EQUALS'] } },
            { Tags: { Key: 'ml-platform:stage', Values: ['prod'], MatchOptions: ['EQUALS'] } },
          ],
        },
      },
      NotificationsWithSubscribers: Match.arrayWith([
        {
          Notification: Match.objectLike({ NotificationType: 'FORECASTED', Threshold: 100 }),
          Subscribers: [{ SubscriptionType: 'SNS', Address: topicRef(template) }],
        },
      ]),
    });
  });

  test('no budget when none is configured', () => {
    const { template, monitoring } = build({ monthlyBudgetUsd: undefined });
    template.resourceCountIs('AWS::Budgets::Budget', 0);
    expect(monitoring.budget).toBeUndefined();
  });

  test('one dashboard with latency, errors, throughput, confidence, drift, replicas, live quality, training', () => {
    const { template, stack } = build();
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      stack.resolve(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]),
    );
    for (const title of [
      'Latency p99',
      'Errors (5xx rate)',
      'Throughput',
      'Mean confidence',
      'Max feature drift',
      'Ready replicas',
      'Live accuracy, fleet-wide',
      'Live precision / recall / F1',
      'Live MAE',
      '2 * tp / (2 * tp + fp + fn)',
      'abserr / matched',
      'Training runs',
    ]) {
      expect(body).toContain(title);
    }
  });

  test('metric methods share the namespace and team dimensions', () => {
    const { monitoring } = build();
    const m = monitoring.metricRequests();
    expect(m.namespace).toBe('MlPlatform/Serving');
    expect(m.dimensions).toEqual({ Team: 'fraud', Stage: 'prod', Model: 'fraud' });
    expect(m.statistic).toBe('Sum');
    expect(monitoring.metric('Custom', { statistic: 'p90' }).statistic).toBe('p90');
  });
});

describe('TeamMonitoring cdk-nag', () => {
  function nagApp(): { app: App; stack: Stack } {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return { app, stack: new Stack(app, 'Nag', { env: ENV }) };
  }

  test('AwsSolutions finds nothing on a stack with the construct (budget included)', () => {
    // GIVEN
    const { app, stack } = nagApp();
    new TeamMonitoring(stack, 'Monitoring', props());
    // WHEN / THEN: synth throws ValidationFailed on any unacknowledged finding
    expect(() => app.synth()).not.toThrow();
  });

  test('fails synth for a non-compliant resource (the checks really run)', () => {
    const { app, stack } = nagApp();
    new sns.Topic(stack, 'PlainTopic');
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS/);
  });
});

describe('TeamMonitoring validation', () => {
  test.each([
    [{ alarmEmails: [] }, /alarmEmails \[\] is invalid: list at least one address/],
    [{ alarmEmails: ['not-an-email'] }, /alarmEmails "not-an-email" is invalid/],
    [
      { thresholds: { errorRate: 5 } },
      /thresholds.errorRate 5 is invalid: use a number between 0 and 1/,
    ],
    [{ thresholds: { lowConfidence: 0 } }, /thresholds.lowConfidence 0 is invalid/],
    [
      { thresholds: { latencyP99Ms: -1 } },
      /thresholds.latencyP99Ms -1 is invalid: use a number above 0/,
    ],
    [{ monthlyBudgetUsd: 0 }, /monthlyBudgetUsd 0 is invalid/],
    [
      { logRetention: 42 as logs.RetentionDays },
      /logRetention 42 is invalid: use a logs.RetentionDays value/,
    ],
  ] as [Partial<TeamMonitoringProps>, RegExp][])('fails for %j', (overrides, message) => {
    expect(() => build(overrides)).toThrow(message);
  });

  test('fails with the construct path in the message', () => {
    expect(() => build({ alarmEmails: [] })).toThrow(/^Team\/Monitoring: /);
  });
});
