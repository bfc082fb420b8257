import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import * as eks from 'aws-cdk-lib/aws-eks';
import type { Construct } from 'constructs';

/**
 * The one compatibility matrix of the platform: every version the cluster, its add-ons and
 * the Kubernetes manifests depend on. Upgrading Kubernetes means changing this file (and the
 * two packages named in it) in one reviewed commit; `test/k8s-versions.test.ts` fails when
 * the pieces disagree, and `docs/compatibility.md` is checked against `compatibilityMatrix()`.
 *
 * Add-on versions are EKS add-on builds (`aws eks describe-addon-versions --kubernetes-version
 * 1.34 --addon-name <name>`); Helm charts are pinned chart versions with the app version they
 * ship (the chart's `appVersion`), so a `helm upgrade` never floats.
 */

/** Kubernetes minor version of the cluster (control plane and managed node groups). */
export const KUBERNETES_MINOR = '1.34';

export interface PinnedHelmChart {
  /** Chart name in the repository. */
  readonly chart: string;
  /** Helm repository URL. */
  readonly repository: string;
  /** Exact chart version. */
  readonly version: string;
  /** The application version the chart deploys (documented, and asserted where it matters). */
  readonly appVersion: string;
}

export const K8S_VERSIONS = {
  /** aws-cdk-lib that provides `eks.KubernetesVersion.V1_34` and the EKS constructs used. */
  awsCdkLib: '2.276.0',
  kubernetes: KUBERNETES_MINOR,
  /** Lambda layer with kubectl (and helm) matching the cluster minor version. */
  kubectlLayer: { package: '@aws-cdk/lambda-layer-kubectl-v34', kubectl: '1.34.0', helm: '4.1.3' },
  /** Typed Kubernetes objects for the cdk8s charts: the package major is the Kubernetes minor. */
  cdk8sPlus: { package: 'cdk8s-plus-34', kubernetesMinor: 34 },
  /** EKS managed add-ons. */
  addons: {
    vpcCni: { name: 'vpc-cni', version: 'v1.20.4-eksbuild.1' },
    podIdentityAgent: { name: 'eks-pod-identity-agent', version: 'v1.3.8-eksbuild.2' },
    metricsServer: { name: 'metrics-server', version: 'v0.8.0-eksbuild.1' },
    cloudWatchObservability: {
      name: 'amazon-cloudwatch-observability',
      version: 'v4.4.0-eksbuild.1',
    },
  },
  /** Helm charts the platform installs. */
  helm: {
    awsLoadBalancerController: {
      chart: 'aws-load-balancer-controller',
      repository: 'https://aws.github.io/eks-charts',
      version: '1.17.1',
      appVersion: 'v2.17.1',
    },
    clusterAutoscaler: {
      chart: 'cluster-autoscaler',
      repository: 'https://kubernetes.github.io/autoscaler',
      version: '9.50.1',
      // Cluster Autoscaler is released per Kubernetes minor: its minor must match the cluster.
      appVersion: 'v1.34.1',
    },
    secretsStoreCsiDriver: {
      chart: 'secrets-store-csi-driver',
      repository: 'https://kubernetes-sigs.github.io/secrets-store-csi-driver/charts',
      version: '1.5.1',
      appVersion: 'v1.5.1',
    },
    secretsStoreAwsProvider: {
      chart: 'secrets-store-csi-driver-provider-aws',
      repository: 'https://aws.github.io/secrets-store-csi-driver-provider-aws',
      version: '1.0.1',
      appVersion: '2.0.0',
    },
    nvidiaDevicePlugin: {
      chart: 'nvidia-device-plugin',
      repository: 'https://nvidia.github.io/k8s-device-plugin',
      version: '0.17.1',
      appVersion: 'v0.17.1',
    },
    /** Prometheus server only: the source of the HPA's requests-per-second metric. */
    prometheus: {
      chart: 'prometheus',
      repository: 'https://prometheus-community.github.io/helm-charts',
      version: '27.19.0',
      appVersion: 'v3.4.1',
    },
    /** Serves `custom.metrics.k8s.io` from Prometheus queries (one rule, see metrics-pipeline.ts). */
    prometheusAdapter: {
      chart: 'prometheus-adapter',
      repository: 'https://prometheus-community.github.io/helm-charts',
      version: '5.3.0',
      appVersion: 'v0.12.0',
    },
  } satisfies Record<string, PinnedHelmChart>,
} as const;

/**
 * Namespace of the platform's Prometheus and prometheus-adapter. The teams' network policies
 * admit scrapes of `/metrics` from it (ServingChart `metricsScraperNamespaces`), so the platform
 * and the team charts must agree on this one name.
 */
export const MONITORING_NAMESPACE = 'monitoring';

/** The cluster's Kubernetes version as the EKS constructs take it. */
export const KUBERNETES_VERSION = eks.KubernetesVersion.V1_34;

/** The kubectl/helm Lambda layer that matches {@link KUBERNETES_VERSION}. */
export function kubectlLayer(scope: Construct, id: string): KubectlV34Layer {
  return new KubectlV34Layer(scope, id);
}

/** The matrix as a Markdown table: the body of `docs/compatibility.md`, checked by a test. */
export function compatibilityMatrix(): string {
  const v = K8S_VERSIONS;
  const rows: [string, string, string][] = [
    ['aws-cdk-lib', v.awsCdkLib, 'EKS constructs, `KubernetesVersion.V1_34`'],
    ['Kubernetes (EKS)', v.kubernetes, 'control plane and managed node groups'],
    [
      v.kubectlLayer.package,
      `kubectl ${v.kubectlLayer.kubectl}, helm ${v.kubectlLayer.helm}`,
      'kubectl/helm used by the CDK custom resources',
    ],
    [v.cdk8sPlus.package, `k8s 1.${v.cdk8sPlus.kubernetesMinor}`, 'typed Kubernetes objects'],
    ...Object.values(v.addons).map((a): [string, string, string] => [
      a.name,
      a.version,
      'EKS managed add-on',
    ]),
    ...Object.values(v.helm).map((h): [string, string, string] => [
      h.chart,
      `chart ${h.version} (app ${h.appVersion})`,
      `Helm, ${h.repository}`,
    ]),
  ];
  return [
    '| component | version | how it is installed / used |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
