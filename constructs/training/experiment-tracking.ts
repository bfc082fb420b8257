import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import type { DataLake } from '../data-lake';
import { TRACKING_SERVER_SIZES, type TrackingServerSize } from './contract';

/** Where the tracking server keeps run artifacts: this prefix of the team's `models` zone. */
export const MLFLOW_ARTIFACT_PREFIX = 'mlflow';

/**
 * What an MLflow client needs on a SageMaker tracking server to log runs: experiments, runs,
 * params, metrics, tags and artifact listings. No model registry, no deletes, no UI.
 */
export const MLFLOW_LOGGING_ACTIONS = [
  'sagemaker-mlflow:CreateExperiment',
  'sagemaker-mlflow:GetExperiment',
  'sagemaker-mlflow:GetExperimentByName',
  'sagemaker-mlflow:SearchExperiments',
  'sagemaker-mlflow:CreateRun',
  'sagemaker-mlflow:GetRun',
  'sagemaker-mlflow:UpdateRun',
  'sagemaker-mlflow:LogBatch',
  'sagemaker-mlflow:LogMetric',
  'sagemaker-mlflow:LogParam',
  'sagemaker-mlflow:SetTag',
  'sagemaker-mlflow:ListArtifacts',
] as const;

export interface ExperimentTrackingProps {
  /** The team's data lake: artifacts go to `models/mlflow/`, encrypted with its key. */
  readonly dataLake: DataLake;
  /** Tracking server name, unique in the account and region (1-256 of [a-zA-Z0-9-]). */
  readonly trackingServerName: string;
  /**
   * Size of the tracking server (how many users and runs it serves at once).
   * @default 'Small'
   */
  readonly size?: TrackingServerSize;
}

/**
 * A SageMaker managed MLflow tracking server for one team. Its role may read and write only
 * `models/mlflow/*` of the team's lake (and use the lake's key); nobody may log to it until
 * granted with `grantLogging`.
 */
export class ExperimentTracking extends Construct {
  /** The role the tracking server assumes to reach its artifact store. */
  readonly role: iam.Role;
  readonly trackingServer: sagemaker.CfnMlflowTrackingServer;
  /** What an MLflow client uses as its tracking URI (with the sagemaker-mlflow plugin). */
  readonly trackingServerArn: string;
  private readonly dataLake: DataLake;

  constructor(scope: Construct, id: string, props: ExperimentTrackingProps) {
    super(scope, id);
    const size = props.size ?? 'Small';
    if (!TRACKING_SERVER_SIZES.includes(size)) {
      throw new Error(
        `${this.node.path}: size "${size}" is invalid: use one of ${TRACKING_SERVER_SIZES.join(', ')} (ExperimentTracking)`,
      );
    }
    if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$/.test(props.trackingServerName)) {
      throw new Error(
        `${this.node.path}: trackingServerName "${props.trackingServerName}" is invalid: use 1-256 letters, digits and inner hyphens (ExperimentTracking)`,
      );
    }
    this.dataLake = props.dataLake;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Assumed by the MLflow tracking server ${props.trackingServerName} for its artifact store`,
    });
    this.grantArtifacts(this.role);
    const models = props.dataLake.bucket('models').bucketName;
    this.trackingServer = new sagemaker.CfnMlflowTrackingServer(this, 'Resource', {
      trackingServerName: props.trackingServerName,
      trackingServerSize: size,
      artifactStoreUri: `s3://${models}/${MLFLOW_ARTIFACT_PREFIX}`,
      roleArn: this.role.roleArn,
      // Models are registered by the platform's own promotion, not by every logged model.
      automaticModelRegistration: false,
    });
    this.trackingServer.node.addDependency(this.role);
    this.trackingServerArn = this.trackingServer.attrTrackingServerArn;
  }

  /**
   * Lets `grantee` (a training role) log runs to this server: the MLflow API on this server
   * only, and the artifact prefix, which MLflow clients write to S3 directly.
   */
  grantLogging(grantee: iam.IGrantable): iam.Grant {
    this.grantArtifacts(grantee);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...MLFLOW_LOGGING_ACTIONS],
      resourceArns: [this.trackingServerArn],
    });
  }

  private grantArtifacts(grantee: iam.IGrantable & Partial<Construct>): void {
    this.dataLake.grantReadWrite('models', grantee, `${MLFLOW_ARTIFACT_PREFIX}/*`);
    if (grantee instanceof Construct) {
      this.dataLake.acknowledgeGrants(
        grantee,
        [{ zone: 'models', prefix: MLFLOW_ARTIFACT_PREFIX }],
        `Least privilege by prefix: MLflow run artifacts live only under ${MLFLOW_ARTIFACT_PREFIX}/* of the team's models bucket (object wildcards below that prefix, and the S3/KMS action families of the grants on the team's own bucket and key).`,
      );
    }
  }
}
