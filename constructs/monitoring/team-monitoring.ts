import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { allowLogsToUseKey } from '../private/logs-key';
import { costAllocationTags } from './cost-allocation';
import {
  CONTAINER_INSIGHTS_NAMESPACE,
  RUNNING_PODS_METRIC,
  SERVING_DIMENSIONS,
  SERVING_METRICS,
  SERVING_METRICS_NAMESPACE,
  SERVING_VERSION_DIMENSIONS,
} from './serving-metrics';

// Thresholds in alarm descriptions, for people: 0.07 reads "7%", not "7.000000000000001%"
// (6 significant digits, en-US so that every synth writes the same text).
const PERCENT = new Intl.NumberFormat('en-US', { style: 'percent', maximumSignificantDigits: 6 });
const DECIMAL = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });
const percent = (share: number) => PERCENT.format(share);
const decimal = (value: number) => DECIMAL.format(value);

/** Alarm thresholds; each default matches the platform's config defaults. */
export interface TeamMonitoringThresholds {
  /**
   * Share of requests (0..1) answered with a 5xx that raises HighErrorRate (for 5 minutes).
   * @default 0.05
   */
  readonly errorRate?: number;
  /**
   * p99 latency target in milliseconds; HighLatency fires above it (for 5 minutes).
   * @default 100
   */
  readonly latencyP99Ms?: number;
  /**
   * Mean prediction confidence (0..1) below which LowConfidence fires (for 10 minutes).
   * @default 0.5
   */
  readonly lowConfidence?: number;
  /**
   * Largest per-feature Population Stability Index above which DataDrift fires.
   * @default 0.25
   */
  readonly driftPsi?: number;
  /**
   * Fleet-wide live accuracy (0..1, from feedback over one hour) below which LowAccuracy fires.
   * @default 0.8
   */
  readonly lowAccuracy?: number;
  /**
   * Matched feedback an hour needs before LowAccuracy judges it: fewer is no verdict, so a
   * handful of unlucky samples never pages anyone.
   * @default 30
   */
  readonly minFeedbackPerHour?: number;
}

/** Where the team's inference service runs, for the ServiceDown metric and the dashboard. */
export interface MonitoredService {
  /** Name the model is served under (the `Model` dimension of the serving metrics). */
  readonly modelName: string;
  /** EKS cluster name (the `ClusterName` dimension of Container Insights). */
  readonly clusterName: string;
  /** Kubernetes namespace of the service (`ServingChart.namespaceName`). */
  readonly namespace: string;
  /**
   * Kubernetes Service name (`ServingChart.serviceName`).
   * @default 'inference'
   */
  readonly serviceName?: string;
}

export interface TeamMonitoringProps {
  /** Team name: the `Team` dimension, and part of alarm names and the budget's tag filter. */
  readonly team: string;
  /** Stage name: the `Stage` dimension. */
  readonly stage: string;
  /** Addresses subscribed to the alarm topic (each must confirm the subscription). */
  readonly alarmEmails: readonly string[];
  /** The inference service to watch. */
  readonly service: MonitoredService;
  /** @default - the defaults of each field */
  readonly thresholds?: TeamMonitoringThresholds;
  /**
   * Customer managed key for the topic and the log group. A key you bring must already let
   * CloudWatch, EventBridge, AWS Budgets and CloudWatch Logs use it (see docs); a key created
   * here gets those statements.
   * @default - a new key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Retention of the team's serving log group (EMF metrics and application logs).
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Name of the team's serving log group; the log shipper must send the service's EMF lines
   * there with the `json/emf` log format.
   * @default `/ml-platform/${team}/${stage}/serving`
   */
  readonly logGroupName?: string;
  /**
   * Monthly budget in USD for the costs tagged with the team environment's cost allocation
   * tags (`ml-platform:team=<team>`, `ml-platform:stage=<stage>`; see ./cost-allocation.ts;
   * both must be active cost allocation tags). Shared platform costs (the EKS cluster and its
   * nodes, NAT gateways, VPC endpoints) carry no team tags and are not in it.
   * @default - no budget
   */
  readonly monthlyBudgetUsd?: number;
  /**
   * SageMaker training jobs and Batch jobs of this team start with this prefix (TrainingJobFailed).
   * @default `${team}-${stage}-`
   */
  readonly trainingJobNamePrefix?: string;
  /**
   * The team's AWS Batch GPU queue (`--mode ec2`): its failed jobs notify the topic and count
   * as failed training jobs too.
   * @default - only SageMaker training jobs are watched
   */
  readonly trainingJobQueue?: batch.IJobQueue;
  /**
   * Prefix of alarm and dashboard names (must be unique in the account and region).
   * @default `${team}-${stage}`
   */
  readonly namePrefix?: string;
  /**
   * What happens to the key and the log group when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A team's alarms, dashboard, alarm topic and budget. Every alarm and the TrainingJobFailed
 * rule notify one KMS-encrypted, TLS-only SNS topic with the owners' emails.
 *
 * The service emits its metrics through CloudWatch EMF (./serving-metrics.ts is the contract);
 * ServiceDown reads Container Insights, TrainingJobFailed the EventBridge events of SageMaker
 * training jobs and of the team's Batch jobs.
 */
export class TeamMonitoring extends Construct {
  /** The alarm topic (every alarm action, the training rule and the budget publish here). */
  readonly topic: sns.ITopic;
  readonly encryptionKey: kms.IKey;
  /** Log group for the service's EMF lines and logs. */
  readonly logGroup: logs.ILogGroup;
  readonly highErrorRateAlarm: cloudwatch.Alarm;
  readonly highLatencyAlarm: cloudwatch.Alarm;
  readonly lowConfidenceAlarm: cloudwatch.Alarm;
  readonly serviceDownAlarm: cloudwatch.Alarm;
  readonly dataDriftAlarm: cloudwatch.Alarm;
  /** Fleet-wide live accuracy (feedback) below its threshold for an hour. */
  readonly lowAccuracyAlarm: cloudwatch.Alarm;
  /** SageMaker training job failures of the team -> the topic. */
  readonly trainingJobFailedRule: events.Rule;
  /** Completed or stopped training jobs; has no target, it exists for its metric. */
  readonly trainingJobFinishedRule: events.Rule;
  /** Failed Batch jobs on `trainingJobQueue` -> the topic (when a queue is given). */
  readonly batchJobFailedRule?: events.Rule;
  /** Succeeded Batch jobs on `trainingJobQueue`; no target, it exists for its metric. */
  readonly batchJobSucceededRule?: events.Rule;
  readonly dashboard: cloudwatch.Dashboard;
  /** The monthly budget, when `monthlyBudgetUsd` is set. */
  readonly budget?: budgets.CfnBudget;

  private readonly dimensions: Record<string, string>;
  private readonly service: Required<MonitoredService>;

  constructor(scope: Construct, id: string, props: TeamMonitoringProps) {
    super(scope, id);
    const t = this.validate(props);
    const { team, stage } = props;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const namePrefix = props.namePrefix ?? `${team}-${stage}`;
    const logGroupName = props.logGroupName ?? `/ml-platform/${team}/${stage}/serving`;
    // The alarm series: summed over versions (the per-version set adds VERSION_DIMENSION).
    const [teamDim, stageDim, modelDim] = SERVING_DIMENSIONS;
    this.dimensions = {
      [teamDim]: team,
      [stageDim]: stage,
      [modelDim]: props.service.modelName,
    };
    this.service = { ...props.service, serviceName: props.service.serviceName ?? 'inference' };
    const stack = Stack.of(this);

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `Alarm topic and serving logs of ${team}/${stage}`,
        enableKeyRotation: true,
        removalPolicy,
      });
    this.allowServicesToUseKey(stack, logGroupName);

    const topic = new sns.Topic(this, 'Topic', {
      displayName: `ML platform alarms: ${team}/${stage}`,
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
    // Budgets publishes only for this account (confused-deputy guard).
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBudgetsPublish',
        principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    props.alarmEmails.forEach((email) => topic.addSubscription(new subs.EmailSubscription(email)));
    this.topic = topic;

    this.logGroup = new logs.LogGroup(this, 'ServingLogs', {
      logGroupName,
      retention: t.logRetention,
      encryptionKey: this.encryptionKey,
      removalPolicy,
    });

    const action = new cwActions.SnsAction(topic);
    const alarm = (
      name: string,
      description: string,
      options: Omit<cloudwatch.CreateAlarmOptions, 'alarmName' | 'alarmDescription'>,
      metric: cloudwatch.IMetric,
    ): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, name, {
        ...options,
        metric,
        alarmName: `${namePrefix}-${name}`,
        alarmDescription: `${team}/${stage}: ${description}`,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      return a;
    };

    this.highErrorRateAlarm = alarm(
      'HighErrorRate',
      `more than ${percent(t.errorRate)} of requests answered 5xx for 5 minutes`,
      {
        threshold: t.errorRate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        // No traffic is not an error; an outage is ServiceDown's job.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      this.metricErrorRate(),
    );
    this.highLatencyAlarm = alarm(
      'HighLatency',
      `p99 latency above ${decimal(t.latencyP99Ms)} ms for 5 minutes`,
      {
        threshold: t.latencyP99Ms,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      this.metricLatencyP99(),
    );
    this.lowConfidenceAlarm = alarm(
      'LowConfidence',
      `mean prediction confidence below ${decimal(t.lowConfidence)} for 10 minutes`,
      {
        threshold: t.lowConfidence,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 10,
        datapointsToAlarm: 10,
        // Without predictions there is no confidence to judge.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      this.metricMeanConfidence(),
    );
    this.serviceDownAlarm = alarm(
      'ServiceDown',
      'no ready pod behind the inference Service for 1 minute',
      {
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // The metric disappears with the last pod: silence is the outage, not the all-clear.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
      this.metricReadyPods(),
    );
    this.dataDriftAlarm = alarm(
      'DataDrift',
      `max feature drift (PSI) above ${decimal(t.driftPsi)}`,
      {
        threshold: t.driftPsi,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Drift does not end because traffic paused: keep the last state until new data.
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      },
      this.metricMaxFeatureDriftPsi(),
    );

    this.lowAccuracyAlarm = alarm(
      'LowAccuracy',
      `live accuracy below ${percent(t.lowAccuracy)} over an hour of feedback (at least ${decimal(t.minFeedbackPerHour)} labelled predictions, all replicas)`,
      {
        threshold: t.lowAccuracy,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // No feedback or a regression model: no value; too little feedback: 1 (see the metric).
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      this.metricLiveAccuracy({ minFeedback: t.minFeedbackPerHour }),
    );

    const jobPrefix = props.trainingJobNamePrefix ?? `${team}-${stage}-`;
    const trainingEvent = (statuses: string[]): events.EventPattern => ({
      source: ['aws.sagemaker'],
      detailType: ['SageMaker Training Job State Change'],
      detail: {
        TrainingJobName: [{ prefix: jobPrefix }],
        TrainingJobStatus: statuses,
      },
    });
    this.trainingJobFailedRule = new events.Rule(this, 'TrainingJobFailed', {
      description: `${team}/${stage}: a SageMaker training job (${jobPrefix}*) failed`,
      eventPattern: trainingEvent(['Failed']),
    });
    this.trainingJobFailedRule.addTarget(
      new targets.SnsTopic(topic, {
        message: events.RuleTargetInput.fromText(
          `${team}/${stage}: training job ${events.EventField.fromPath('$.detail.TrainingJobName')} failed: ${events.EventField.fromPath('$.detail.FailureReason')}`,
        ),
      }),
    );
    this.trainingJobFinishedRule = new events.Rule(this, 'TrainingJobFinished', {
      description: `${team}/${stage}: a SageMaker training job (${jobPrefix}*) completed or stopped (metric only)`,
      eventPattern: trainingEvent(['Completed', 'Stopped']),
    });
    if (props.trainingJobQueue) {
      // Batch reports a job FAILED once, after its last retry (spot reclaims are retried).
      const batchEvent = (status: string): events.EventPattern => ({
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: {
          jobQueue: [props.trainingJobQueue!.jobQueueArn],
          jobName: [{ prefix: jobPrefix }],
          status: [status],
        },
      });
      this.batchJobFailedRule = new events.Rule(this, 'TrainingBatchJobFailed', {
        description: `${team}/${stage}: a Batch training job (${jobPrefix}*) failed`,
        eventPattern: batchEvent('FAILED'),
      });
      this.batchJobFailedRule.addTarget(
        new targets.SnsTopic(topic, {
          message: events.RuleTargetInput.fromText(
            `${team}/${stage}: training job ${events.EventField.fromPath('$.detail.jobName')} (AWS Batch, job ${events.EventField.fromPath('$.detail.jobId')}) failed: ${events.EventField.fromPath('$.detail.statusReason')}`,
          ),
        }),
      );
      this.batchJobSucceededRule = new events.Rule(this, 'TrainingBatchJobSucceeded', {
        description: `${team}/${stage}: a Batch training job (${jobPrefix}*) succeeded (metric only)`,
        eventPattern: batchEvent('SUCCEEDED'),
      });
    }

    if (props.monthlyBudgetUsd !== undefined) {
      this.budget = this.createBudget(team, stage, props.monthlyBudgetUsd, topic);
    }

    this.dashboard = this.createDashboard(`${namePrefix}-ml`, t);
  }

  /**
   * A metric the inference service emits (./serving-metrics.ts), with the team's Team, Stage
   * and Model dimensions. Every `metricXxx()` method is built on this one.
   */
  metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricIn(SERVING_METRICS_NAMESPACE, metricName, this.dimensions, props);
  }

  /** Inference requests (Sum per period). */
  metricRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SERVING_METRICS.requests, { statistic: 'Sum', ...props });
  }

  /** Responses with status >= 500 (Sum per period). */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SERVING_METRICS.errors, { statistic: 'Sum', ...props });
  }

  /** 5xx responses / requests, 0..1 (0 when there were no requests). */
  metricErrorRate(props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, errors / requests, 0)',
      usingMetrics: { requests: this.metricRequests(), errors: this.metricErrors() },
      label: '5xx error rate',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** p99 latency in ms: the worst pod's p99 over its emit interval (Maximum). */
  metricLatencyP99(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SERVING_METRICS.latencyP99, { statistic: 'Maximum', ...props });
  }

  /** Mean prediction confidence, 0..1 (Average). */
  metricMeanConfidence(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SERVING_METRICS.meanConfidence, { statistic: 'Average', ...props });
  }

  /** Largest Population Stability Index over the input features (Maximum per 15 minutes). */
  metricMaxFeatureDriftPsi(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SERVING_METRICS.maxFeatureDriftPsi, {
      statistic: 'Maximum',
      period: Duration.minutes(15),
      ...props,
    });
  }

  /** Feedback counts of the fleet (every replica, every version): Sum per hour. */
  private feedbackCount(metric: string): cloudwatch.Metric {
    return this.metric(metric, { statistic: 'Sum', period: Duration.hours(1) });
  }

  /**
   * Fleet-wide live accuracy, 0..1: FeedbackCorrect / (FeedbackCorrect + FeedbackIncorrect)
   * summed over every replica and version (the counts are additive; see
   * serving/src/cloudwatch-metrics.ts), per hour. A regression model publishes neither: no
   * value. With `minFeedback` (the alarm's form), an hour with fewer labelled feedbacks counts
   * as 1, so it never breaches.
   */
  metricLiveAccuracy(
    props: cloudwatch.MathExpressionOptions & { minFeedback?: number } = {},
  ): cloudwatch.MathExpression {
    const { minFeedback, ...options } = props;
    return new cloudwatch.MathExpression({
      expression: minFeedback
        ? `IF(correct + incorrect >= ${minFeedback}, correct / (correct + incorrect), 1)`
        : 'correct / (correct + incorrect)',
      usingMetrics: {
        correct: this.feedbackCount(SERVING_METRICS.feedbackCorrect),
        incorrect: this.feedbackCount(SERVING_METRICS.feedbackIncorrect),
      },
      label: 'live accuracy',
      period: Duration.hours(1),
      ...options,
    });
  }

  /**
   * Fleet-wide precision, recall and F1 of the positive label (binary classification) and the
   * mean absolute error (regression), per hour, from the same additive feedback counts.
   */
  metricLiveQuality(): Record<'precision' | 'recall' | 'f1' | 'mae', cloudwatch.MathExpression> {
    const tp = this.feedbackCount(SERVING_METRICS.feedbackTruePositives);
    const fp = this.feedbackCount(SERVING_METRICS.feedbackFalsePositives);
    const fn = this.feedbackCount(SERVING_METRICS.feedbackFalseNegatives);
    const expr = (
      expression: string,
      label: string,
      usingMetrics: Record<string, cloudwatch.IMetric>,
    ) =>
      new cloudwatch.MathExpression({ expression, usingMetrics, label, period: Duration.hours(1) });
    return {
      precision: expr('tp / (tp + fp)', 'precision', { tp, fp }),
      recall: expr('tp / (tp + fn)', 'recall', { tp, fn }),
      f1: expr('2 * tp / (2 * tp + fp + fn)', 'F1', { tp, fp, fn }),
      mae: expr('abserr / matched', 'MAE', {
        abserr: this.feedbackCount(SERVING_METRICS.feedbackAbsoluteError),
        matched: this.feedbackCount(SERVING_METRICS.feedbackMatched),
      }),
    };
  }

  /** Ready pods behind the team's Kubernetes Service (Container Insights, Minimum). */
  metricReadyPods(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const { clusterName, namespace, serviceName } = this.service;
    return this.metricIn(
      CONTAINER_INSIGHTS_NAMESPACE,
      RUNNING_PODS_METRIC,
      { ClusterName: clusterName, Namespace: namespace, Service: serviceName },
      { statistic: 'Minimum', ...props },
    );
  }

  /** Failed training jobs of the team, SageMaker and Batch (EventBridge matches, Sum per hour). */
  metricTrainingJobsFailed(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.ruleMatches(
      { sagemakerFailed: this.trainingJobFailedRule, batchFailed: this.batchJobFailedRule },
      'failed',
      props,
    );
  }

  /** Completed, stopped or succeeded training jobs of the team (EventBridge matches, Sum per hour). */
  metricTrainingJobsFinished(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.ruleMatches(
      {
        sagemakerFinished: this.trainingJobFinishedRule,
        batchSucceeded: this.batchJobSucceededRule,
      },
      'completed or stopped',
      props,
    );
  }

  /** Matches of the rules that exist (by metric id, unique on a graph), summed; an hour without matches counts 0. */
  private ruleMatches(
    rules: Record<string, events.Rule | undefined>,
    label: string,
    props?: cloudwatch.MathExpressionOptions,
  ): cloudwatch.MathExpression {
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const [id, rule] of Object.entries(rules)) {
      if (!rule) continue;
      usingMetrics[id] = this.metricIn(
        'AWS/Events',
        'TriggeredRules',
        { RuleName: rule.ruleName },
        { statistic: 'Sum', period: Duration.hours(1) },
      );
    }
    return new cloudwatch.MathExpression({
      expression: Object.keys(usingMetrics)
        .map((id) => `FILL(${id}, 0)`)
        .join(' + '),
      usingMetrics,
      label,
      period: Duration.hours(1),
      ...props,
    });
  }

  /** The one place metrics are built: 1-minute periods unless the caller says otherwise. */
  private metricIn(
    namespace: string,
    metricName: string,
    dimensionsMap: Record<string, string>,
    props: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace,
      metricName,
      dimensionsMap,
      period: Duration.minutes(1),
      ...props,
    });
  }

  private validate(props: TeamMonitoringProps) {
    const fail = (prop: string, value: unknown, fix: string): never => {
      throw new Error(
        `${this.node.path}: ${prop} ${JSON.stringify(value)} is invalid: ${fix} (TeamMonitoring)`,
      );
    };
    const th = props.thresholds ?? {};
    const fraction = (prop: string, v: number) => {
      if (!(v > 0 && v < 1)) fail(prop, v, 'use a number between 0 and 1 (exclusive)');
      return v;
    };
    const positive = (prop: string, v: number) => {
      if (!(v > 0) || !Number.isFinite(v)) fail(prop, v, 'use a number above 0');
      return v;
    };
    if (props.alarmEmails.length === 0) {
      fail('alarmEmails', props.alarmEmails, 'list at least one address for alarms');
    }
    props.alarmEmails
      .filter((e) => !Token.isUnresolved(e))
      .forEach((e) => {
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) fail('alarmEmails', e, 'use email addresses');
      });
    if (props.monthlyBudgetUsd !== undefined) positive('monthlyBudgetUsd', props.monthlyBudgetUsd);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    if (!Object.values(logs.RetentionDays).includes(logRetention)) {
      fail('logRetention', logRetention, 'use a logs.RetentionDays value (e.g. 30, 90, 365)');
    }
    if (props.encryptionKey && !(props.encryptionKey instanceof kms.Key)) {
      Annotations.of(this).addWarningV2(
        'ml-platform:imported-key',
        'encryptionKey is imported: its key policy must let cloudwatch, events, budgets and logs use it (see docs/serving-on-eks.md).',
      );
    }
    return {
      errorRate: fraction('thresholds.errorRate', th.errorRate ?? 0.05),
      latencyP99Ms: positive('thresholds.latencyP99Ms', th.latencyP99Ms ?? 100),
      lowConfidence: fraction('thresholds.lowConfidence', th.lowConfidence ?? 0.5),
      driftPsi: positive('thresholds.driftPsi', th.driftPsi ?? 0.25),
      lowAccuracy: fraction('thresholds.lowAccuracy', th.lowAccuracy ?? 0.8),
      minFeedbackPerHour: positive('thresholds.minFeedbackPerHour', th.minFeedbackPerHour ?? 30),
      logRetention,
    };
  }

  /** Lets the services that publish to the topic or write the log group use the key. */
  private allowServicesToUseKey(stack: Stack, logGroupName: string): void {
    this.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmPublishersToEncrypt',
        principals: [
          // EventBridge gets its statement from the SnsTopic rule target.
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          new iam.ServicePrincipal('budgets.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        // In a key policy, "*" is the key itself.
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    allowLogsToUseKey(
      this,
      this.encryptionKey,
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: logGroupName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      'AllowServingLogGroup',
    );
  }

  private createBudget(
    team: string,
    stage: string,
    amount: number,
    topic: sns.ITopic,
  ): budgets.CfnBudget {
    const notify = (notificationType: string, threshold: number) => ({
      notification: {
        notificationType,
        comparisonOperator: 'GREATER_THAN',
        threshold,
        thresholdType: 'PERCENTAGE',
      },
      subscribers: [{ subscriptionType: 'SNS', address: topic.topicArn }],
    });
    const budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount, unit: 'USD' },
        filterExpression: {
          and: Object.entries(costAllocationTags({ team, stage })).map(([key, value]) => ({
            tags: { key, values: [value], matchOptions: ['EQUALS'] },
          })),
        },
      },
      notificationsWithSubscribers: [
        notify('ACTUAL', 80),
        notify('ACTUAL', 100),
        notify('FORECASTED', 100),
      ],
    });
    // Budgets checks it may publish when the budget is created: the policy must exist first.
    const policy = topic.node.tryFindChild('Policy');
    if (policy) budget.node.addDependency(policy);
    return budget;
  }

  /**
   * The retraining pipeline on the team's topic and dashboard: an execution that ends failed,
   * timed out or aborted (past the pipeline's own failure handling, which notifies itself)
   * notifies the topic; the dashboard graphs the executions and each model version's own
   * requests, error count, p99 latency and low-confidence predictions (the canary figures).
   */
  addPipeline(stateMachine: sfn.IStateMachine): void {
    const [team, stage] = SERVING_DIMENSIONS.map((name) => this.dimensions[name]);
    new events.Rule(this, 'PipelineExecutionFailed', {
      description: `${team}/${stage}: a retraining pipeline execution failed, timed out or was aborted`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [stateMachine.stateMachineArn],
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        },
      },
      targets: [
        new targets.SnsTopic(this.topic, {
          message: events.RuleTargetInput.fromText(
            `${team}/${stage}: retraining execution ${events.EventField.fromPath('$.detail.name')} ended ${events.EventField.fromPath('$.detail.status')}: ${events.EventField.fromPath('$.detail.cause')}`,
          ),
        }),
      ],
    });
    const executions = (metric: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/States',
        metricName: metric,
        dimensionsMap: { StateMachineArn: stateMachine.stateMachineArn },
        statistic: 'Sum',
        period: Duration.hours(1),
        label,
      });
    const perVersion = (metric: string, statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${SERVING_METRICS_NAMESPACE},${SERVING_VERSION_DIMENSIONS.join(',')}} MetricName="${metric}" ${Object.entries(
          this.dimensions,
        )
          .map(([k, v]) => `${k}="${v}"`)
          .join(' ')}', '${statistic}', 300)`,
        label,
        period: Duration.minutes(5),
      });
    const widget = (title: string, left: cloudwatch.IMetric[]) =>
      new cloudwatch.GraphWidget({ title, left, width: 6, height: 6 });
    this.dashboard.addWidgets(
      widget('Retraining executions (per hour)', [
        executions('ExecutionsStarted', 'started'),
        executions('ExecutionsSucceeded', 'succeeded'),
        executions('ExecutionsFailed', 'failed'),
        executions('ExecutionsTimedOut', 'timed out'),
      ]),
      widget('Requests per version', [perVersion(SERVING_METRICS.requests, 'Sum', 'requests')]),
      widget('Errors per version', [perVersion(SERVING_METRICS.errors, 'Sum', 'errors')]),
      widget('p99 latency per version (ms)', [
        perVersion(SERVING_METRICS.latencyP99, 'Maximum', 'p99'),
      ]),
    );
    this.dashboard.addWidgets(
      widget('Low-confidence predictions per version', [
        perVersion(SERVING_METRICS.lowConfidencePredictions, 'Sum', 'low confidence'),
      ]),
    );
  }

  private createDashboard(
    dashboardName: string,
    t: ReturnType<TeamMonitoring['validate']>,
  ): cloudwatch.Dashboard {
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      threshold?: { value: number; label: string },
    ) =>
      new cloudwatch.GraphWidget({
        title,
        left,
        width: 8,
        height: 6,
        leftAnnotations: threshold
          ? [{ value: threshold.value, label: threshold.label, color: '#d62728' }]
          : undefined,
      });
    const alarms = [
      this.highErrorRateAlarm,
      this.highLatencyAlarm,
      this.lowConfidenceAlarm,
      this.serviceDownAlarm,
      this.dataDriftAlarm,
      this.lowAccuracyAlarm,
    ];
    const quality = this.metricLiveQuality();
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName,
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 3 })],
        [
          graph('Latency p99 (ms)', [this.metricLatencyP99()], {
            value: t.latencyP99Ms,
            label: 'target',
          }),
          graph('Errors (5xx rate)', [this.metricErrorRate()], {
            value: t.errorRate,
            label: 'alarm',
          }),
          graph('Throughput (requests/min)', [this.metricRequests()]),
        ],
        [
          graph('Mean confidence', [this.metricMeanConfidence()], {
            value: t.lowConfidence,
            label: 'alarm',
          }),
          graph('Max feature drift (PSI)', [this.metricMaxFeatureDriftPsi()], {
            value: t.driftPsi,
            label: 'alarm',
          }),
          graph('Ready replicas', [this.metricReadyPods()]),
        ],
        [
          graph('Live accuracy, fleet-wide (per hour)', [this.metricLiveAccuracy()], {
            value: t.lowAccuracy,
            label: 'alarm',
          }),
          graph('Live precision / recall / F1 (per hour)', [
            quality.precision,
            quality.recall,
            quality.f1,
          ]),
          graph('Live MAE, regression (per hour)', [quality.mae]),
        ],
        [
          graph('Training runs (per hour)', [
            this.metricTrainingJobsFinished(),
            this.metricTrainingJobsFailed(),
          ]),
        ],
      ],
    });
  }
}
