import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as eks from 'aws-cdk-lib/aws-eks';
import type { Chart } from 'cdk8s';
import { Construct, type IDependable } from 'constructs';
import type { DataLake } from '../data-lake';
import { SERVING_METRICS_NAMESPACE } from '../monitoring/serving-metrics';
import { MODEL_STORE_PREFIX } from '../../serving/src/store/layout';
import { PREDICTION_TABLE } from '../../serving/src/feedback';
import { acknowledge } from '../private/acknowledge';
import { ApiKeyRotation } from './api-key-rotation';
import { PodIdentityRole } from './pod-identity-role';

export interface TeamServingProps {
  /** The shared cluster (it may live in another stack of the same environment). */
  readonly cluster: eks.ICluster;
  /**
   * The Pod Identity Agent add-on of the cluster: the association waits for it.
   * @default - no extra dependency
   */
  readonly podIdentityAgent?: IDependable;
  /** The team's namespace; the chart applied with {@link TeamServing.addChart} must create it. */
  readonly namespace: string;
  /** Service account of the inference pods, in `namespace`. */
  readonly serviceAccountName: string;
  /** The team's data lake: models are read from it, feedback is written to it. */
  readonly dataLake: DataLake;
  /** Folder with the inference service's Dockerfile (built and pushed to ECR at deploy). */
  readonly imageDirectory: string;
  /**
   * Prefix in the `processed` zone where the service writes feedback and captured requests.
   * @default 'feedback'
   */
  readonly feedbackPrefix?: string;
  /**
   * Key that encrypts the API keys secret.
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the secret and its key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Time between automatic rotations of the API keys (a new key first, the previous one kept
   * for one more interval).
   * @default Duration.days(30)
   */
  readonly apiKeyRotation?: Duration;
  /**
   * Retention of the rotation function's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * CloudWatch namespace the service may publish its metrics to.
   * @default SERVING_METRICS_NAMESPACE ('MlPlatform/Serving', what TeamMonitoring reads)
   */
  readonly metricsNamespace?: string;
  /**
   * Point-in-time recovery of the prediction table (its items live one feedback window; a
   * restore brings back the predictions still waiting for their ground truth).
   * @default false
   */
  readonly predictionTableRecovery?: boolean;
}

/**
 * The AWS side of one team's inference service on the shared cluster:
 *
 * - the pod role (EKS Pod Identity, bound to one namespace and service account) that can read
 *   only the model store (`models/*`, MODEL_STORE_PREFIX of serving/src/store/layout.ts, the
 *   prefix the publisher writes) of the team's models zone, write only `feedback/*` of its processed zone,
 *   and read its API keys secret;
 * - the API keys secret in Secrets Manager (generated at deploy, KMS encrypted: the value is in
 *   no template and no manifest; the pods mount it through the Secrets Store CSI driver),
 *   rotated on a schedule by {@link ApiKeyRotation} (new key first, previous key kept);
 * - the prediction table (DynamoDB, the data lake key, TTL on PREDICTION_TABLE.ttlAttribute of
 *   serving/src/feedback.ts) that every pod writes its predictions to and claims feedback from,
 *   so feedback posted to any pod matches; the pods may only BatchWriteItem and UpdateItem it;
 * - the container image, built from `imageDirectory` and pushed to the CDK assets repository;
 * - {@link addChart}: applies the team's cdk8s chart to the cluster from this stack.
 */
export class TeamServing extends Construct {
  readonly role: PodIdentityRole;
  readonly apiKeys: secretsmanager.ISecret;
  readonly apiKeyRotation: ApiKeyRotation;
  readonly image: ecrAssets.DockerImageAsset;
  readonly namespace: string;
  readonly serviceAccountName: string;
  /**
   * `s3://<models bucket>/models`: the team's model store root (one folder per model, see
   * serving/src/store/layout.ts); the chart points the service at its model's folder in it.
   */
  readonly modelStore: string;
  /** `s3://<processed bucket>/<prefix>`: where the service may write feedback and captures. */
  readonly feedbackUri: string;
  /** The fleet's prediction table (SERVING_PREDICTION_TABLE of the pods). */
  readonly predictionTable: dynamodb.Table;
  private readonly cluster: eks.ICluster;

  constructor(scope: Construct, id: string, props: TeamServingProps) {
    super(scope, id);
    // The store prefix is the layout's, not a prop: the publisher writes there and nowhere else.
    const modelsPrefix = MODEL_STORE_PREFIX;
    const feedbackPrefix = props.feedbackPrefix ?? 'feedback';
    const metricsNamespace = props.metricsNamespace ?? SERVING_METRICS_NAMESPACE;
    if (!/^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*)*$/.test(feedbackPrefix)) {
      throw new Error(
        `${this.node.path}: feedbackPrefix must be a key prefix like "feedback" (lowercase, no leading or trailing slash, no wildcard), got "${feedbackPrefix}"`,
      );
    }
    this.cluster = props.cluster;
    this.namespace = props.namespace;
    this.serviceAccountName = props.serviceAccountName;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.role = new PodIdentityRole(this, 'PodRole', {
      cluster: props.cluster,
      namespace: props.namespace,
      serviceAccount: props.serviceAccountName,
      description: `Inference pods of namespace ${props.namespace}: read models, write feedback, read API keys`,
      agent: props.podIdentityAgent,
    });
    props.dataLake.grantRead('models', this.role, `${modelsPrefix}/*`);
    props.dataLake.grantWrite('processed', this.role, `${feedbackPrefix}/*`);
    // The service publishes its metrics with PutMetricData (container logs reach CloudWatch
    // without the EMF log format in EKS); the condition pins the namespace the alarms read.
    this.role.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishServingMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': metricsNamespace } },
      }),
    );
    this.modelStore = `s3://${props.dataLake.bucket('models').bucketName}/${modelsPrefix}`;
    this.feedbackUri = `s3://${props.dataLake.bucket('processed').bucketName}/${feedbackPrefix}`;

    const key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `Encrypts the API keys of the inference service in ${props.namespace}`,
        enableKeyRotation: true,
        removalPolicy,
        pendingWindow: Duration.days(removalPolicy === RemovalPolicy.DESTROY ? 7 : 30),
      });
    const apiKeys = new secretsmanager.Secret(this, 'ApiKeys', {
      description: `API keys of the inference service in ${props.namespace}, one per line`,
      encryptionKey: key,
      // One random key to start with; ApiKeyRotation adds a new one on its schedule
      // (docs/runbook.md#rotating-api-keys).
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy,
    });
    apiKeys.grantRead(this.role);
    this.apiKeys = apiKeys;
    this.apiKeyRotation = new ApiKeyRotation(this, 'ApiKeyRotation', {
      secret: apiKeys,
      encryptionKey: key,
      logGroupName: `/mlp/${props.namespace}/api-key-rotation`,
      schedule: props.apiKeyRotation,
      logRetention: props.logRetention,
      removalPolicy,
    });

    // On-demand: its traffic is the service's request rate, which the HPA moves all day. The
    // pods never read it whole: one write per request, one conditional update per feedback.
    this.predictionTable = new dynamodb.Table(this, 'Predictions', {
      partitionKey: { name: PREDICTION_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.dataLake.encryptionKey,
      timeToLiveAttribute: PREDICTION_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.predictionTableRecovery ?? false },
      removalPolicy,
    });
    this.predictionTable.grant(this.role.role, 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem');
    props.dataLake.encryptionKey.grant(this.role.role, 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:Encrypt');
    if (!props.predictionTableRecovery)
      acknowledge(
        this.predictionTable,
        'Point-in-time recovery is off outside prod (serving.feedback.pointInTimeRecovery): the table only holds predictions waiting for feedback, each for one feedback window; losing it loses that window of live-accuracy samples, not a record of the business.',
        'AwsSolutions-DDB3',
      );

    this.image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory,
      platform: ecrAssets.Platform.LINUX_AMD64,
      // Dependencies are installed inside the build; a local node_modules would only slow
      // staging and change the asset hash.
      exclude: ['**/node_modules', '**/coverage', '**/dist'],
    });

    acknowledge(
      this.role.role,
      `cloudwatch:PutMetricData supports no resource-level permission; the condition limits it to the ${metricsNamespace} namespace.`,
      'AwsSolutions-IAM5[Resource::*]',
    );
    props.dataLake.acknowledgeGrants(
      this.role.role,
      [
        { zone: 'models', prefix: modelsPrefix },
        { zone: 'processed', prefix: feedbackPrefix },
      ],
      `Least privilege by prefix: reads only ${modelsPrefix}/* of this team's models bucket and writes only ${feedbackPrefix}/* of its processed bucket (object-level wildcards for the keys below those prefixes and the S3/KMS action families of the grant: Get/List object versions, Put/Abort multipart, GenerateDataKey/ReEncrypt with the data lake key).`,
    );
  }

  /**
   * Applies a cdk8s chart to the cluster from this construct's stack (the chart's tokens, such
   * as the image URI, resolve here), after the pod role is associated: pods never start
   * without their credentials.
   */
  addChart(id: string, chart: Chart): eks.KubernetesManifest {
    const objects = chart.toJson() as { kind: string; metadata?: { name?: string; namespace?: string } }[];
    const has = (kind: string, name: string) =>
      objects.some((o) => o.kind === kind && o.metadata?.name === name);
    if (!has('Namespace', this.namespace)) {
      throw new Error(
        `${this.node.path}: the chart must create namespace "${this.namespace}" (the pod role is bound to it)`,
      );
    }
    if (
      !objects.some(
        (o) =>
          o.kind === 'ServiceAccount' &&
          o.metadata?.name === this.serviceAccountName &&
          o.metadata?.namespace === this.namespace,
      )
    ) {
      throw new Error(
        `${this.node.path}: the chart must create service account "${this.serviceAccountName}" in "${this.namespace}" (the pod role is bound to it)`,
      );
    }
    const manifest = new eks.KubernetesManifest(this, id, {
      cluster: this.cluster,
      manifest: objects,
    });
    manifest.node.addDependency(this.role.association);
    return manifest;
  }
}
