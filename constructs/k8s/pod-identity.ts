/**
 * How the inference pods get AWS credentials. Neither mode needs the Kubernetes API token
 * (the pods never call the Kubernetes API), so the service account token stays unmounted:
 *
 * - IRSA: the EKS pod identity webhook sees the `eks.amazonaws.com/role-arn` annotation and
 *   injects its own projected token (audience `sts.amazonaws.com`, volume `aws-iam-token`)
 *   plus `AWS_ROLE_ARN` / `AWS_WEB_IDENTITY_TOKEN_FILE`. That projection is added by the
 *   webhook whatever `automountServiceAccountToken` says.
 * - EKS Pod Identity: an association (created in CloudFormation, not here) maps the service
 *   account to a role; the webhook injects `AWS_CONTAINER_CREDENTIALS_FULL_URI` and its own
 *   token, and the SDK fetches credentials from the node-local agent at 169.254.170.23.
 */
export abstract class PodIdentity {
  /**
   * IAM Roles for Service Accounts: the service account is annotated with the role.
   * @param roleArn the pod role's ARN (a CDK token such as `role.roleArn` is fine)
   */
  static irsa(roleArn: string): PodIdentity {
    return new IrsaPodIdentity(roleArn);
  }

  /**
   * EKS Pod Identity: the caller creates the `AWS::EKS::PodIdentityAssociation` for the
   * chart's namespace and service account; the chart allows egress to the agent.
   */
  static eksPodIdentity(): PodIdentity {
    return new EksPodIdentity();
  }

  /** `irsa` or `eks-pod-identity`. */
  abstract readonly kind: 'irsa' | 'eks-pod-identity';
  /** The IRSA role's ARN; undefined for EKS Pod Identity (the association names the role). */
  abstract readonly roleArn?: string;
  /** Annotations for the service account. */
  abstract serviceAccountAnnotations(): Record<string, string>;
}

class IrsaPodIdentity extends PodIdentity {
  readonly kind = 'irsa' as const;
  constructor(readonly roleArn: string) {
    super();
  }
  serviceAccountAnnotations(): Record<string, string> {
    return {
      'eks.amazonaws.com/role-arn': this.roleArn,
      // Regional STS: works through the VPC's STS interface endpoint, no global endpoint.
      'eks.amazonaws.com/sts-regional-endpoints': 'true',
    };
  }
}

class EksPodIdentity extends PodIdentity {
  readonly kind = 'eks-pod-identity' as const;
  readonly roleArn = undefined;
  serviceAccountAnnotations(): Record<string, string> {
    return {};
  }
}
