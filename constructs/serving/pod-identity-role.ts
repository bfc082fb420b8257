import { Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IDependable } from 'constructs';

export interface PodIdentityRoleProps {
  /** The cluster whose pods assume the role. */
  readonly cluster: eks.ICluster;
  /** Namespace of the Kubernetes service account. */
  readonly namespace: string;
  /** Name of the Kubernetes service account (created by its chart, not here). */
  readonly serviceAccount: string;
  /** What the role is for, shown in IAM. */
  readonly description: string;
  /**
   * What must exist before pods can use the association (the Pod Identity Agent add-on).
   * @default - no extra dependency
   */
  readonly agent?: IDependable;
}

/**
 * An IAM role for one Kubernetes service account through EKS Pod Identity: the role trusts
 * only the EKS pods service, only on behalf of this cluster in this account, and the
 * association binds it to exactly one namespace and service account.
 *
 * Pod Identity instead of IRSA: the trust policy is static (no OIDC issuer URL, which is only
 * known after the cluster exists and needs a custom resource to put in a condition key), it
 * works unchanged across stacks, and no IAM OIDC provider is needed at all.
 */
export class PodIdentityRole extends Construct implements iam.IGrantable {
  readonly role: iam.Role;
  readonly grantPrincipal: iam.IPrincipal;
  readonly association: eks.CfnPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: PodIdentityRoleProps) {
    super(scope, id);
    const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
    for (const [name, value] of [
      ['namespace', props.namespace],
      ['serviceAccount', props.serviceAccount],
    ]) {
      if (!dnsLabel.test(value)) {
        throw new Error(
          `${this.node.path}: ${name} must be a Kubernetes DNS label (lowercase letters, digits, dashes), got "${value}"`,
        );
      }
    }
    const pods = new iam.ServicePrincipal('pods.eks.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
      ArnEquals: { 'aws:SourceArn': props.cluster.clusterArn },
    });
    this.role = new iam.Role(this, 'Resource', {
      assumedBy: new iam.SessionTagsPrincipal(pods),
      description: props.description,
    });
    this.grantPrincipal = this.role;
    this.association = new eks.CfnPodIdentityAssociation(this, 'Association', {
      clusterName: props.cluster.clusterName,
      namespace: props.namespace,
      serviceAccount: props.serviceAccount,
      roleArn: this.role.roleArn,
    });
    if (props.agent) this.association.node.addDependency(props.agent);
  }
}
