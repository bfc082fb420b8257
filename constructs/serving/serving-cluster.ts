import { Duration, RemovalPolicy, Stack, Token, type CfnElement } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cdk8s from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import {
  K8S_VERSIONS,
  KUBERNETES_VERSION,
  kubectlLayer,
  MONITORING_NAMESPACE,
  type PinnedHelmChart,
} from '../k8s-versions';
import albControllerPolicy from './policies/aws-load-balancer-controller-v2.17.1.json';
import { acknowledgeEksProviders, LAMBDA_EXECUTION_POLICIES } from './acknowledgements';
import { acknowledge } from '../private/acknowledge';
import { prometheusAdapterValues, prometheusValues } from './metrics-pipeline';
import { PodIdentityRole } from './pod-identity-role';

export interface NodeGroupSpec {
  /** Instance types of the group (one size family: the autoscaler sizes from the first). */
  readonly instanceTypes: readonly ec2.InstanceType[];
  /** Nodes the autoscaler never goes below. */
  readonly minSize: number;
  /** Nodes the autoscaler never goes above. */
  readonly maxSize: number;
}

export interface ServingClusterProps {
  /** The VPC; nodes and the control-plane network interfaces use its private subnets. */
  readonly vpc: ec2.IVpc;
  /**
   * Name of the EKS cluster: part of the deployed contract (changing it replaces the cluster),
   * and the Cluster Autoscaler's IAM condition needs it as a literal.
   */
  readonly clusterName: string;
  /**
   * CIDRs that may reach the Kubernetes API endpoint from the internet. Empty keeps the endpoint
   * private (reachable from the VPC only); the list may not contain a /0.
   * @default - private endpoint only
   */
  readonly endpointPublicCidrs?: readonly string[];
  /**
   * Roles that get cluster-admin through EKS access entries.
   * @default - none: only the CDK deployment role can use kubectl
   */
  readonly adminRoles?: readonly iam.IRole[];
  /**
   * The CPU node group every workload runs on.
   * @default - two to four m6i.large nodes
   */
  readonly nodes?: NodeGroupSpec;
  /**
   * A GPU node group, tainted `nvidia.com/gpu=true:NoSchedule`, with the NVIDIA device plugin.
   * @default - no GPU nodes
   */
  readonly gpuNodes?: NodeGroupSpec;
  /**
   * Key that envelope-encrypts Kubernetes secrets in etcd.
   * @default - a new key with rotation
   */
  readonly secretsKey?: kms.IKey;
  /**
   * Whether the cluster can be deleted (EKS deletion protection).
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * How long control-plane logs are kept. The log group is created here, before the cluster, so
   * EKS does not create it without retention.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly controlPlaneLogRetention?: logs.RetentionDays;
  /**
   * Key that encrypts the control-plane log group; its policy must let CloudWatch Logs use it.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logKey?: kms.IKey;
}

/** Every control-plane log type: API, audit, authenticator, controller manager, scheduler. */
export const CONTROL_PLANE_LOG_TYPES = Object.values(eks.ClusterLoggingTypes);

/** Node label that tells CPU and GPU nodes apart (used by node selectors and the device plugin). */
export const NODE_CLASS_LABEL = 'ml-platform/node-class';

/** Taint on GPU nodes: only pods that tolerate it (GPU workloads) are scheduled there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true' } as const;

/**
 * The shared EKS cluster of one account and region, ready for the teams' serving workloads:
 *
 * - Kubernetes {@link K8S_VERSIONS.kubernetes}, private API endpoint unless an allow-list is
 *   given, all control-plane logs, secrets encrypted with a customer managed key, access entries
 *   (authentication mode API: no aws-auth ConfigMap), NetworkPolicy enforcement by the VPC CNI;
 * - a managed CPU node group in private subnets and an optional GPU node group, both with a
 *   launch template that enforces IMDSv2 with a hop limit of 1 (pods cannot reach the node's
 *   instance role) and encrypted gp3 root volumes;
 * - Cluster Autoscaler, the AWS Load Balancer Controller, metrics-server, the CloudWatch
 *   observability add-on (Container Insights and logs), the Pod Identity Agent, the Secrets
 *   Store CSI driver with its AWS provider and, with GPU nodes, the NVIDIA device plugin, each
 *   pinned in `constructs/k8s-versions.ts`;
 * - in namespace {@link MONITORING_NAMESPACE}, a Prometheus server scraping annotated pods and
 *   prometheus-adapter serving the HPAs' `inference_requests_per_second` through
 *   `custom.metrics.k8s.io` (see `metrics-pipeline.ts`).
 *
 * Controllers get AWS permissions through EKS Pod Identity ({@link PodIdentityRole}).
 */
export class ServingCluster extends Construct {
  readonly cluster: eks.Cluster;
  readonly secretsKey: kms.IKey;
  readonly cpuNodes: eks.Nodegroup;
  readonly gpuNodes?: eks.Nodegroup;
  /** Pod associations need the agent: depend on it before creating one. */
  readonly podIdentityAgent: eks.Addon;

  constructor(scope: Construct, id: string, props: ServingClusterProps) {
    super(scope, id);
    const publicCidrs = [...(props.endpointPublicCidrs ?? [])];
    validate(this, props, publicCidrs);

    this.secretsKey =
      props.secretsKey ??
      new kms.Key(this, 'SecretsKey', {
        description: 'Envelope encryption of Kubernetes secrets of the ML platform cluster',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });

    // EKS writes to /aws/eks/<name>/cluster; created first, it keeps our retention and key.
    const controlPlaneLogs = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${props.clusterName}/cluster`,
      retention: props.controlPlaneLogRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.cluster = new eks.Cluster(this, 'Resource', {
      version: KUBERNETES_VERSION,
      kubectlLayer: kubectlLayer(this, 'KubectlLayer'),
      clusterName: props.clusterName,
      vpc: props.vpc,
      vpcSubnets: [privateSubnets],
      endpointAccess:
        publicCidrs.length > 0
          ? eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...publicCidrs)
          : eks.EndpointAccess.PRIVATE,
      clusterLogging: CONTROL_PLANE_LOG_TYPES,
      secretsEncryptionKey: this.secretsKey,
      authenticationMode: eks.AuthenticationMode.API,
      defaultCapacity: 0,
      placeClusterHandlerInVpc: true,
      deletionProtection: props.deletionProtection ?? false,
    });
    this.cluster.node.addDependency(controlPlaneLogs);

    (props.adminRoles ?? []).forEach((role, i) => {
      // Keyed by role name where known, so reordering the list replaces no access entry.
      const key = Token.isUnresolved(role.roleName) ? String(i) : role.roleName;
      this.cluster.grantAccess(`Admin-${key}`, role.roleArn, [
        eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', {
          accessScopeType: eks.AccessScopeType.CLUSTER,
        }),
      ]);
    });

    this.cpuNodes = this.addNodeGroup(
      'CpuNodes',
      props.nodes ?? {
        instanceTypes: [new ec2.InstanceType('m6i.large')],
        minSize: 2,
        maxSize: 4,
      },
      eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      'cpu',
    );
    if (props.gpuNodes) {
      this.gpuNodes = this.addNodeGroup(
        'GpuNodes',
        props.gpuNodes,
        eks.NodegroupAmiType.AL2023_X86_64_NVIDIA,
        'gpu',
      );
    }

    const addon = (addonId: string, pinned: { name: string; version: string }): eks.Addon => {
      const a = new eks.Addon(this, addonId, {
        cluster: this.cluster,
        addonName: pinned.name,
        addonVersion: pinned.version,
      });
      // Add-ons with pods go Degraded without nodes to run on.
      a.node.addDependency(this.cpuNodes);
      return a;
    };
    const v = K8S_VERSIONS;
    // The VPC CNI as a managed add-on, to turn on its network policy agent: without it the
    // teams' default-deny NetworkPolicies would be accepted by the API and enforced by nobody.
    // It replaces the self-managed CNI EKS installs (OVERWRITE), and must not wait for nodes.
    const vpcCni = new eks.Addon(this, 'VpcCni', {
      cluster: this.cluster,
      addonName: v.addons.vpcCni.name,
      addonVersion: v.addons.vpcCni.version,
      configurationValues: { enableNetworkPolicy: 'true' },
    });
    (vpcCni.node.defaultChild as eks.CfnAddon).resolveConflicts = 'OVERWRITE';
    this.podIdentityAgent = addon('PodIdentityAgent', v.addons.podIdentityAgent);
    addon('MetricsServer', v.addons.metricsServer);

    const cloudWatchAgent = new PodIdentityRole(this, 'CloudWatchAgentRole', {
      cluster: this.cluster,
      namespace: 'amazon-cloudwatch',
      serviceAccount: 'cloudwatch-agent',
      description: 'CloudWatch agent and Fluent Bit: Container Insights metrics and pod logs',
      agent: this.podIdentityAgent,
    });
    cloudWatchAgent.role.addManagedPolicy(
      iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchAgentServerPolicy'),
    );
    addon('CloudWatchObservability', v.addons.cloudWatchObservability).node.addDependency(
      cloudWatchAgent.association,
    );

    this.addSecretsStore();
    const loadBalancerController = this.addLoadBalancerController();
    const clusterAutoscaler = this.addClusterAutoscaler(props);
    if (this.gpuNodes) this.addNvidiaDevicePlugin(this.gpuNodes);
    this.addCustomMetrics();
    this.acknowledgeFindings(
      { cloudWatchAgent: cloudWatchAgent.role, loadBalancerController, clusterAutoscaler },
      props.clusterName,
    );
  }

  private addNodeGroup(
    id: string,
    spec: NodeGroupSpec,
    amiType: eks.NodegroupAmiType,
    nodeClass: 'cpu' | 'gpu',
  ): eks.Nodegroup {
    const launchTemplate = new ec2.LaunchTemplate(this, `${id}LaunchTemplate`, {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(nodeClass === 'gpu' ? 100 : 50, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    return this.cluster.addNodegroupCapacity(id, {
      amiType,
      instanceTypes: [...spec.instanceTypes],
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      // The autoscaler owns the desired size after creation; this is only the starting point.
      desiredSize: spec.minSize,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplateSpec: {
        id: launchTemplate.launchTemplateId!,
        version: launchTemplate.latestVersionNumber,
      },
      labels: { [NODE_CLASS_LABEL]: nodeClass },
      taints:
        nodeClass === 'gpu' ? [{ ...GPU_TAINT, effect: eks.TaintEffect.NO_SCHEDULE }] : undefined,
      capacityType: eks.CapacityType.ON_DEMAND,
      maxUnavailable: 1,
    });
  }

  /**
   * Helm release of a pinned chart, after the CPU nodes exist (its pods need somewhere to run).
   * Helm creates the namespace unless it is kube-system or `namespaceCreated` (created here,
   * with labels, and a dependency of the release).
   */
  private helm(
    id: string,
    pinned: PinnedHelmChart,
    namespace: string,
    values: object,
    namespaceCreated = false,
  ) {
    const chart = this.cluster.addHelmChart(id, {
      chart: pinned.chart,
      repository: pinned.repository,
      version: pinned.version,
      release: pinned.chart,
      namespace,
      createNamespace: namespace !== 'kube-system' && !namespaceCreated,
      values: values as Record<string, unknown>,
      wait: true,
      timeout: Duration.minutes(15),
    });
    chart.node.addDependency(this.cpuNodes);
    return chart;
  }

  /**
   * Secrets Store CSI driver and its AWS provider: pods mount Secrets Manager secrets as files
   * with their own Pod Identity role, so no secret value is ever in a manifest or etcd.
   */
  private addSecretsStore(): void {
    const driver = this.helm(
      'SecretsStoreCsiDriver',
      K8S_VERSIONS.helm.secretsStoreCsiDriver,
      'kube-system',
      // Mounts only: never copy secrets into Kubernetes Secret objects.
      // Rotation: re-fetch mounted secrets every 2 minutes and swap the mount's ..data link
      // when the value changed, so a rotated API key reaches running pods without a restart.
      { syncSecret: { enabled: false }, enableSecretRotation: true, rotationPollInterval: '2m' },
    );
    const provider = this.helm(
      'SecretsStoreAwsProvider',
      K8S_VERSIONS.helm.secretsStoreAwsProvider,
      'kube-system',
      { 'secrets-store-csi-driver': { install: false } },
    );
    provider.node.addDependency(driver, this.podIdentityAgent);
  }

  private addLoadBalancerController(): iam.Role {
    const serviceAccount = 'aws-load-balancer-controller';
    const controller = new PodIdentityRole(this, 'LoadBalancerControllerRole', {
      cluster: this.cluster,
      namespace: 'kube-system',
      serviceAccount,
      description: 'AWS Load Balancer Controller: ALBs and target groups for ingresses',
      agent: this.podIdentityAgent,
    });
    // The controller's documented policy, kept verbatim in the repo next to its version.
    const partition = Stack.of(this).partition;
    for (const statement of albControllerPolicy.Statement) {
      const resources = ([] as string[]).concat(statement.Resource);
      controller.role.addToPrincipalPolicy(
        iam.PolicyStatement.fromJson({
          ...statement,
          Resource: resources.map((r) => r.replace('arn:aws:', `arn:${partition}:`)),
        }),
      );
    }
    const chart = this.helm(
      'LoadBalancerController',
      K8S_VERSIONS.helm.awsLoadBalancerController,
      'kube-system',
      {
        clusterName: this.cluster.clusterName,
        region: Stack.of(this).region,
        vpcId: this.cluster.vpc.vpcId,
        serviceAccount: { create: true, name: serviceAccount },
        image: { tag: K8S_VERSIONS.helm.awsLoadBalancerController.appVersion },
        replicaCount: 2,
      },
    );
    chart.node.addDependency(controller.association);
    return controller.role;
  }

  private addClusterAutoscaler(props: ServingClusterProps): iam.Role {
    const serviceAccount = 'cluster-autoscaler';
    const autoscaler = new PodIdentityRole(this, 'ClusterAutoscalerRole', {
      cluster: this.cluster,
      namespace: 'kube-system',
      serviceAccount,
      description: 'Cluster Autoscaler: resizes the managed node groups of this cluster',
      agent: this.podIdentityAgent,
    });
    // Read-only discovery calls have no resource-level permissions.
    autoscaler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLaunchConfigurations',
          'autoscaling:DescribeScalingActivities',
          'autoscaling:DescribeTags',
          'ec2:DescribeImages',
          'ec2:DescribeInstanceTypes',
          'ec2:DescribeLaunchTemplateVersions',
          'ec2:GetInstanceTypesFromInstanceRequirements',
        ],
        resources: ['*'],
      }),
    );
    // Scale-from-zero reads labels and taints of this cluster's node groups only.
    const { partition, region, account } = Stack.of(this);
    autoscaler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeNodegroup'],
        resources: [`arn:${partition}:eks:${region}:${account}:nodegroup/${props.clusterName}/*`],
      }),
    );
    // Resizing is limited to Auto Scaling groups that EKS tagged as owned by this cluster.
    autoscaler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            [`aws:ResourceTag/k8s.io/cluster-autoscaler/${props.clusterName}`]: 'owned',
          },
        },
      }),
    );
    const chart = this.helm('ClusterAutoscaler', K8S_VERSIONS.helm.clusterAutoscaler, 'kube-system', {
      cloudProvider: 'aws',
      awsRegion: region,
      autoDiscovery: { clusterName: this.cluster.clusterName },
      rbac: { serviceAccount: { create: true, name: serviceAccount } },
      image: { tag: K8S_VERSIONS.helm.clusterAutoscaler.appVersion },
      extraArgs: {
        'balance-similar-node-groups': true,
        'skip-nodes-with-system-pods': false,
        expander: 'least-waste',
      },
      nodeSelector: { [NODE_CLASS_LABEL]: 'cpu' },
    });
    chart.node.addDependency(autoscaler.association);
    return autoscaler.role;
  }

  private addNvidiaDevicePlugin(gpuNodes: eks.Nodegroup): void {
    const chart = this.helm(
      'NvidiaDevicePlugin',
      K8S_VERSIONS.helm.nvidiaDevicePlugin,
      'nvidia-device-plugin',
      {
        nodeSelector: { [NODE_CLASS_LABEL]: 'gpu' },
        tolerations: [{ ...GPU_TAINT, operator: 'Equal', effect: 'NoSchedule' }],
      },
    );
    chart.node.addDependency(gpuNodes);
  }

  /**
   * Prometheus and prometheus-adapter, so the teams' HPAs can read requests per second per pod
   * (without the custom metrics API an HPA never scales in). Their namespace enforces Pod
   * Security `baseline` and warns and audits on `restricted`: the values ask for restricted
   * pods, but `restricted` is enforced only once a deploy has shown both charts' pods comply.
   */
  private addCustomMetrics(): void {
    const manifests = new cdk8s.Chart(new cdk8s.App(), 'Monitoring');
    new k8s.KubeNamespace(manifests, 'Namespace', {
      metadata: {
        name: MONITORING_NAMESPACE,
        labels: {
          'pod-security.kubernetes.io/enforce': 'baseline',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/warn-version': 'latest',
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/audit-version': 'latest',
        },
      },
    });
    const namespace = this.cluster.addCdk8sChart('MonitoringNamespace', manifests);
    const onCpuNodes = { [NODE_CLASS_LABEL]: 'cpu' };
    const prometheus = this.helm(
      'Prometheus',
      K8S_VERSIONS.helm.prometheus,
      MONITORING_NAMESPACE,
      prometheusValues(onCpuNodes),
      true,
    );
    prometheus.node.addDependency(namespace);
    const adapter = this.helm(
      'PrometheusAdapter',
      K8S_VERSIONS.helm.prometheusAdapter,
      MONITORING_NAMESPACE,
      prometheusAdapterValues(onCpuNodes),
      true,
    );
    adapter.node.addDependency(prometheus);
  }

  private acknowledgeFindings(
    roles: Record<'cloudWatchAgent' | 'loadBalancerController' | 'clusterAutoscaler', iam.Role>,
    clusterName: string,
  ): void {
    const { partition, region, account } = Stack.of(this);
    const arn = (rest: string) => `arn:${partition}:${rest}`;
    const policy = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
    acknowledge(
      this.cluster.role,
      'AmazonEKSClusterPolicy is the policy EKS documents for the cluster service role; EKS needs exactly what it grants to manage the control plane network interfaces and load balancers.',
      policy('AmazonEKSClusterPolicy'),
    );
    for (const group of [this.cpuNodes, this.gpuNodes]) {
      if (!group) continue;
      acknowledge(
        group.role,
        'The three AWS managed policies EKS requires for managed node groups: join the cluster (AmazonEKSWorkerNodePolicy), pull images from ECR read-only (AmazonEC2ContainerRegistryReadOnly), and let the VPC CNI assign pod IPs (AmazonEKS_CNI_Policy). Pods cannot use this role: IMDSv2 with hop limit 1.',
        policy('AmazonEKSWorkerNodePolicy'),
        policy('AmazonEC2ContainerRegistryReadOnly'),
        policy('AmazonEKS_CNI_Policy'),
      );
    }
    const creationRole = this.cluster.node.findChild('Resource').node.findChild('CreationRole');
    acknowledge(
      creationRole,
      'The role aws-cdk-lib uses to create and update this cluster: scoped to this cluster name and its Fargate profiles; the remaining `*` is for ec2:Describe* and iam:GetRole/ListAttachedRolePolicies calls that have no resource-level permissions.',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${arn(`eks:${region}:${account}:cluster/${clusterName}/*`)}]`,
      `AwsSolutions-IAM5[Resource::${arn(`eks:${region}:${account}:fargateprofile/${clusterName}/*`)}]`,
    );
    if (this.cluster.kubectlLambdaRole) {
      acknowledge(
        this.cluster.kubectlLambdaRole,
        'Execution role of the aws-cdk-lib kubectl/helm handler: AWS managed policies for its own logs, its network interfaces in the private subnets (private endpoint), and pulling public ECR Helm charts / images read-only.',
        ...LAMBDA_EXECUTION_POLICIES.map(policy),
        policy('AmazonEC2ContainerRegistryPullOnly'),
        `AwsSolutions-IAM4[Policy::{"Fn::If":["${Stack.of(this).resolve(Stack.of(this).getLogicalId(this.cluster.node.findChild('HasEcrPublic') as CfnElement))}",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}]`,
      );
    }
    acknowledge(
      roles.cloudWatchAgent,
      'CloudWatchAgentServerPolicy is the policy AWS documents for the amazon-cloudwatch-observability add-on and updates with it: PutMetricData, writing its own log groups, and reading its agent configuration.',
      policy('CloudWatchAgentServerPolicy'),
    );
    acknowledge(
      roles.loadBalancerController,
      'The documented IAM policy of the AWS Load Balancer Controller, kept verbatim (policies/). Describe* calls have no resource-level permissions; every mutating statement is limited to resources tagged elbv2.k8s.aws/cluster (created by the controller), and the ARN wildcards stand for load balancer, listener and target group names that Kubernetes ingresses create at run time.',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${arn('ec2:*:*:security-group/*')}]`,
      ...['listener-rule/app/*/*/*', 'listener-rule/net/*/*/*', 'listener/app/*/*/*', 'listener/net/*/*/*', 'loadbalancer/app/*/*', 'loadbalancer/net/*/*', 'targetgroup/*/*'].map(
        (r) => `AwsSolutions-IAM5[Resource::${arn(`elasticloadbalancing:*:*:${r}`)}]`,
      ),
    );
    acknowledge(
      roles.clusterAutoscaler,
      'Cluster Autoscaler: Describe* discovery calls have no resource-level permissions; SetDesiredCapacity and TerminateInstanceInAutoScalingGroup are conditioned on the k8s.io/cluster-autoscaler/<cluster>=owned tag EKS puts on this cluster\'s node group Auto Scaling groups; DescribeNodegroup is limited to this cluster\'s node groups (names generated by EKS).',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${arn(`eks:${region}:${account}:nodegroup/${clusterName}/*`)}]`,
    );
    acknowledgeEksProviders(Stack.of(this));
  }
}

function validate(scope: Construct, props: ServingClusterProps, publicCidrs: string[]): void {
  const fail = (msg: string): never => {
    throw new Error(`${scope.node.path}: ${msg}`);
  };
  if (!Token.isUnresolved(props.clusterName) && !/^[a-zA-Z][a-zA-Z0-9_-]{0,99}$/.test(props.clusterName)) {
    fail(`clusterName must be 1-100 letters, digits, dashes and underscores, starting with a letter, got "${props.clusterName}"`);
  }
  const open = publicCidrs.find((c) => c.endsWith('/0'));
  if (open) {
    fail(
      `endpointPublicCidrs must not contain ${open}: that opens the Kubernetes API to the internet. List your VPN or office ranges, or leave it empty for a private endpoint.`,
    );
  }
  for (const [name, spec] of [
    ['nodes', props.nodes],
    ['gpuNodes', props.gpuNodes],
  ] as const) {
    if (!spec) continue;
    if (spec.instanceTypes.length === 0) fail(`${name}.instanceTypes must not be empty`);
    if (spec.minSize < 0 || spec.minSize > spec.maxSize || spec.maxSize < 1) {
      fail(
        `${name} needs 0 <= minSize <= maxSize and maxSize >= 1, got minSize ${spec.minSize}, maxSize ${spec.maxSize}`,
      );
    }
  }
}
