import { createHash } from 'node:crypto';
import { Token } from 'aws-cdk-lib';
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import { MONITORING_NAMESPACE } from '../k8s-versions';
import { costAllocationTags } from '../monitoring/cost-allocation';
import { SERVING_METRICS_NAMESPACE } from '../monitoring/serving-metrics';
import { MODEL_NAME_PATTERN, MODEL_STORE_PREFIX, modelRoot } from '../../serving/src/store/layout';
import { SecretProviderClass } from './imports/secrets-store.csi.x-k8s.io';
import type { PodIdentity } from './pod-identity';
import { SERVING_ENV } from './serving-env';

/** The port the inference container listens on (HTTP). */
export const SERVING_PORT = 8080;
/** Open Inference Protocol health endpoints of the service. */
export const LIVENESS_PATH = '/v2/health/live';
export const READINESS_PATH = '/v2/health/ready';
/**
 * The service's Prometheus endpoint, on {@link SERVING_PORT}. It needs no API key: the chart
 * never sets `SERVING_AUTH_METRICS`, and the network policy admits only the scraper namespaces.
 */
export const METRICS_PATH = '/metrics';
/** Default name of the HPA's Pods metric (served by the platform's prometheus-adapter). */
export const REQUESTS_PER_SECOND_METRIC = 'inference_requests_per_second';
/** Where the API keys file is mounted, and its name (the secret's `objectAlias`). */
export const SECRETS_MOUNT_PATH = '/mnt/secrets';
export const API_KEYS_FILE = `${SECRETS_MOUNT_PATH}/api-keys`;
/** Non-root user and group of the container (the serving image's `node` user). */
export const RUN_AS_USER = 1000;

/** Per-namespace limits: what the team's namespace may request in total. */
export interface ServingQuota {
  /**
   * Total CPU requests and limits of the namespace, in millicores.
   * @default - (maxReplicas + 1) pods of the service (the +1 is the rolling-update surge)
   */
  readonly cpuMillicores?: number;
  /**
   * Total memory requests and limits of the namespace, in MiB.
   * @default - (maxReplicas + 1) pods of the service
   */
  readonly memoryMiB?: number;
}

/** Per-container defaults and bounds (LimitRange) for anything else run in the namespace. */
export interface ServingLimitRange {
  /** @default 250 */
  readonly defaultRequestCpuMillicores?: number;
  /** @default 256 */
  readonly defaultRequestMemoryMiB?: number;
  /** @default 500 */
  readonly defaultLimitCpuMillicores?: number;
  /** @default 512 */
  readonly defaultLimitMemoryMiB?: number;
  /** @default - the larger of 4000 and the service's cpuMillicores */
  readonly maxCpuMillicores?: number;
  /** @default - the larger of 8192 and the service's memoryMiB */
  readonly maxMemoryMiB?: number;
}

export interface ServingChartProps {
  /** Team name (DNS label); becomes a label, a metric dimension and part of the namespace. */
  readonly team: string;
  /**
   * Turns a value that may hold CDK tokens into a stable form for the config checksum (pass
   * `(v) => stack.resolve(v)` when applying the chart from a CDK stack): a token's placeholder
   * text depends on how many tokens the app created before it, so hashing it would roll the
   * pods whenever an unrelated part of the app changes.
   * @default - values are hashed as given
   */
  readonly resolveToken?: (value: string) => unknown;
  /** Stage name (DNS label), e.g. `dev` or `prod`. */
  readonly stage: string;
  /**
   * Container image of the inference service, e.g. `DockerImageAsset.imageUri`
   * (a CDK token is fine: it resolves when the chart is applied with `addCdk8sChart`).
   */
  readonly image: string;
  /**
   * The team's model store: `s3://<models bucket>/models` (`MODEL_STORE_PREFIX` of
   * serving/src/store/layout.ts, where the publisher writes; the pod role must read it). The
   * service is pointed at the model's folder in it, `modelRoot(modelStore, modelName)`.
   */
  readonly modelStore: string;
  /** Name the model is served, stored and reported under (a DNS label). */
  readonly modelName: string;
  /** How the pods get AWS credentials: `PodIdentity.irsa(role.roleArn)` or EKS Pod Identity. */
  readonly podIdentity: PodIdentity;
  /**
   * Secrets Manager secret (name or ARN) holding the API keys, one per line. The pod role
   * needs `secretsmanager:GetSecretValue` on it (and `kms:Decrypt` on its key); its value is
   * never in a manifest: the Secrets Store CSI driver mounts it as a file.
   */
  readonly apiKeysSecret: string;
  /** ACM certificate ARN for the HTTPS listener of the ALB. */
  readonly certificateArn: string;
  /**
   * CIDRs the ALB's network interfaces live in (with target type `ip` the ALB connects to pod
   * IPs from there): usually the VPC CIDR. The network policy admits only these to the port.
   */
  readonly loadBalancerSourceCidrs: readonly string[];
  /** AWS region of the cluster (the SDK's region: the pods cannot reach IMDS). */
  readonly region: string;
  /**
   * Namespace of the team's workloads.
   * @default `${team}-${stage}`
   */
  readonly namespace?: string;
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default 10 */
  readonly maxReplicas?: number;
  /**
   * CPU per pod in millicores; request = limit (Guaranteed QoS, predictable latency).
   * @default 1000
   */
  readonly cpuMillicores?: number;
  /**
   * Memory per pod in MiB; request = limit.
   * @default 512
   */
  readonly memoryMiB?: number;
  /**
   * Sampled request/response capture for offline drift analysis: the service writes batches
   * of JSON lines under `uri` (the pod role must be allowed to write there).
   * @default - no capture
   */
  readonly capture?: { readonly uri: string; readonly sampleRate: number };
  /**
   * Fleet-wide feedback: the DynamoDB prediction table every pod writes its predictions to
   * (the pod role must be allowed to BatchWriteItem and UpdateItem it), and how long after a
   * prediction its feedback still counts.
   * @default - each pod remembers its own recent predictions: feedback that reaches another
   * pod is unmatched
   */
  readonly feedback?: { readonly predictionTable: string; readonly windowHours: number };
  /**
   * Access logs: the share of successful inference requests logged, and the latency from which
   * a request is always logged (4xx and 5xx always are).
   * @default - 1% sampled, 1000 ms slow
   */
  readonly accessLog?: { readonly sampleRate?: number; readonly slowRequestMs?: number };
  /**
   * Requests per second one API key may send to one pod: the second line behind the fleet-wide
   * WAF limit (`webAclArn`).
   * @default - no per-pod limit
   */
  readonly perPodRateLimit?: number;
  /**
   * AWS WAF web ACL (regional) the load balancer controller attaches to the team's ALB.
   * @default - no web ACL
   */
  readonly webAclArn?: string;
  /**
   * HPA target: average CPU utilisation (percent of the request).
   * @default 70
   */
  readonly targetCpuUtilization?: number;
  /**
   * HPA target: average requests per second per pod, read from the custom metrics API.
   * @default 50
   */
  readonly targetRequestsPerSecond?: number;
  /**
   * Name of the Pods metric in the custom metrics API (served by prometheus-adapter from the
   * service's `prediction_duration_seconds_count`; see docs/serving-on-eks.md).
   * @default 'inference_requests_per_second'
   */
  readonly requestsPerSecondMetric?: string;
  /**
   * Seconds between polls of the model aliases.
   * @default 30
   */
  readonly aliasPollSeconds?: number;
  /**
   * preStop sleep: seconds the pod keeps serving after it is marked terminating, so the
   * endpoints and the ALB target group deregister it before SIGTERM.
   * @default 15
   */
  readonly preStopSleepSeconds?: number;
  /**
   * Seconds in-flight requests may drain after SIGTERM (`SERVING_SHUTDOWN_TIMEOUT_MS`).
   * terminationGracePeriodSeconds = preStopSleepSeconds + drainSeconds + 5.
   * @default 25
   */
  readonly drainSeconds?: number;
  /**
   * An internet-facing ALB instead of an internal one.
   * @default false
   */
  readonly internetFacing?: boolean;
  /**
   * Client CIDRs allowed to reach the ALB (`inbound-cidrs`); required when internetFacing.
   * @default - any client that can route to the internal ALB
   */
  readonly allowedClientCidrs?: readonly string[];
  /**
   * Host name the Ingress rule matches.
   * @default - any host
   */
  readonly hostname?: string;
  /**
   * Namespaces whose pods may scrape `/metrics` on the service port (Prometheus, the
   * CloudWatch agent).
   * @default ['amazon-cloudwatch', MONITORING_NAMESPACE] (the CloudWatch agent, the platform's Prometheus)
   */
  readonly metricsScraperNamespaces?: readonly string[];
  /**
   * Destinations of HTTPS egress (AWS APIs, VPC endpoints, S3 gateway endpoint prefixes).
   * The instance metadata address is always excluded.
   * @default ['0.0.0.0/0']
   */
  readonly httpsEgressCidrs?: readonly string[];
  /** @default - see ServingQuota */
  readonly quota?: ServingQuota;
  /** @default - see ServingLimitRange */
  readonly limitRange?: ServingLimitRange;
}

/**
 * One team's inference service on EKS, as Kubernetes manifests: a namespace with Pod Security
 * Admission `restricted`, quota and limits, default-deny network policies with the few flows
 * the service needs, a service account for the pod role, the Deployment (probes, Guaranteed
 * resources, restricted security context, graceful drain, zone spread), Service, PDB, HPA on
 * CPU and requests per second, an internal HTTPS ALB Ingress and the API keys mounted from
 * Secrets Manager by the Secrets Store CSI driver.
 *
 * Testable without AWS: `Testing.synth(new ServingChart(Testing.app(), 'Serving', props))`.
 * In a stack: `cluster.addCdk8sChart('Serving', new ServingChart(cdk8sApp, 'Serving', props))`.
 */
export class ServingChart extends Chart {
  /** The team's namespace. */
  readonly namespaceName: string;
  /** Name of the Deployment, Service, ServiceAccount, HPA, PDB and Ingress. */
  readonly serviceName = 'inference';
  /** Name of the service account (for an EKS Pod Identity association or an IRSA trust). */
  readonly serviceAccountName = 'inference';

  constructor(scope: Construct, id: string, props: ServingChartProps) {
    super(scope, id);
    const p = resolveProps(this, props);
    const ns = p.namespace;
    this.namespaceName = ns;
    const name = this.serviceName;

    const labels = {
      'app.kubernetes.io/name': name,
      'app.kubernetes.io/instance': `${props.team}-${props.stage}`,
      'app.kubernetes.io/component': 'model-serving',
      'app.kubernetes.io/part-of': 'ml-platform',
    };
    const selector = {
      'app.kubernetes.io/name': name,
      'app.kubernetes.io/instance': labels['app.kubernetes.io/instance'],
    };
    const teamLabels = { 'ml-platform/team': props.team, 'ml-platform/stage': props.stage };
    const meta = (objectName: string, extra: Record<string, string> = {}) => ({
      name: objectName,
      namespace: ns,
      labels: { ...teamLabels, ...labels, ...extra },
    });

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: ns,
        labels: {
          ...teamLabels,
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/audit-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/warn-version': 'latest',
          // The ALB controller adds a readiness gate: a new pod counts as ready only once its
          // target is healthy in the ALB, so a rolling update never outruns the load balancer.
          'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled',
        },
      },
    });

    const quotaHard: Record<string, k8s.Quantity> = {
      'requests.cpu': milli(p.quota.cpuMillicores),
      'limits.cpu': milli(p.quota.cpuMillicores),
      'requests.memory': mebi(p.quota.memoryMiB),
      'limits.memory': mebi(p.quota.memoryMiB),
      // The service runs ONNX Runtime on CPUs: no pod of the namespace may claim a GPU.
      'requests.nvidia.com/gpu': k8s.Quantity.fromNumber(0),
      // Exposure goes through the team's Ingress only: no NodePort or LoadBalancer services.
      'services.nodeports': k8s.Quantity.fromNumber(0),
      'services.loadbalancers': k8s.Quantity.fromNumber(0),
    };
    new k8s.KubeResourceQuota(this, 'Quota', {
      metadata: { name: 'team-quota', namespace: ns, labels: teamLabels },
      spec: { hard: quotaHard },
    });

    const lr = p.limitRange;
    new k8s.KubeLimitRange(this, 'Limits', {
      metadata: { name: 'container-limits', namespace: ns, labels: teamLabels },
      spec: {
        limits: [
          {
            type: 'Container',
            defaultRequest: {
              cpu: milli(lr.defaultRequestCpuMillicores),
              memory: mebi(lr.defaultRequestMemoryMiB),
            },
            default: {
              cpu: milli(lr.defaultLimitCpuMillicores),
              memory: mebi(lr.defaultLimitMemoryMiB),
            },
            max: { cpu: milli(lr.maxCpuMillicores), memory: mebi(lr.maxMemoryMiB) },
          },
        ],
      },
    });

    this.addNetworkPolicies(ns, teamLabels, selector, p);

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: {
        ...meta(this.serviceAccountName),
        annotations: props.podIdentity.serviceAccountAnnotations(),
      },
      // The pods never call the Kubernetes API. AWS credentials come from the token the
      // IRSA / Pod Identity webhook projects itself (see PodIdentity), not from this mount.
      automountServiceAccountToken: false,
    });

    const secretProviderClass = new SecretProviderClass(this, 'ApiKeys', {
      metadata: meta(`${name}-api-keys`),
      spec: {
        provider: 'aws',
        parameters: {
          // JSON is YAML: the AWS provider parses this list; deterministic key order.
          objects: JSON.stringify([
            {
              objectName: props.apiKeysSecret,
              objectType: 'secretsmanager',
              objectAlias: 'api-keys',
            },
          ]),
          region: props.region,
          ...(props.podIdentity.kind === 'eks-pod-identity' ? { usePodIdentity: 'true' } : {}),
        },
      },
    });

    const configData: Record<string, string> = {
      // The model's folder (aliases/ + versions/), not the store root: what the service reads.
      [SERVING_ENV.modelSource]: modelRoot(props.modelStore, props.modelName),
      [SERVING_ENV.modelName]: props.modelName,
      [SERVING_ENV.aliasPollSeconds]: String(p.aliasPollSeconds),
      [SERVING_ENV.port]: String(SERVING_PORT),
      [SERVING_ENV.apiKeysFile]: API_KEYS_FILE,
      [SERVING_ENV.emf]: 'true',
      [SERVING_ENV.emfNamespace]: SERVING_METRICS_NAMESPACE,
      [SERVING_ENV.emfSink]: 'cloudwatch',
      ...(props.capture && props.capture.sampleRate > 0
        ? {
            [SERVING_ENV.captureUri]: props.capture.uri,
            [SERVING_ENV.captureSample]: String(props.capture.sampleRate),
          }
        : {}),
      ...(props.feedback
        ? {
            [SERVING_ENV.predictionTable]: props.feedback.predictionTable,
            [SERVING_ENV.feedbackWindowSeconds]: String(props.feedback.windowHours * 3600),
          }
        : {}),
      [SERVING_ENV.accessLogSample]: String(props.accessLog?.sampleRate ?? 0.01),
      [SERVING_ENV.slowRequestMs]: String(props.accessLog?.slowRequestMs ?? 1000),
      ...(props.perPodRateLimit !== undefined
        ? { [SERVING_ENV.rateLimitRps]: String(props.perPodRateLimit) }
        : {}),
      [SERVING_ENV.team]: props.team,
      [SERVING_ENV.stage]: props.stage,
      [SERVING_ENV.shutdownDelayMs]: '0',
      [SERVING_ENV.shutdownTimeoutMs]: String(p.drainSeconds * 1000),
      [SERVING_ENV.awsRegion]: props.region,
    };
    const configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: meta(`${name}-config`),
      data: configData,
    });

    const resources: Record<string, k8s.Quantity> = {
      cpu: milli(p.cpuMillicores),
      memory: mebi(p.memoryMiB),
    };
    const httpGet = (path: string): k8s.HttpGetAction => ({
      path,
      port: k8s.IntOrString.fromString('http'),
      scheme: 'HTTP',
    });

    new k8s.KubeDeployment(this, 'Deployment', {
      metadata: meta(name),
      spec: {
        // No `replicas`: the HPA owns the count, and re-applying the chart must not reset it.
        selector: { matchLabels: selector },
        revisionHistoryLimit: 5,
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: {
            maxUnavailable: k8s.IntOrString.fromNumber(0),
            maxSurge: k8s.IntOrString.fromNumber(1),
          },
        },
        template: {
          metadata: {
            labels: { ...teamLabels, ...labels },
            annotations: {
              // A config change rolls the pods (envFrom is read only at container start).
              'ml-platform/config-checksum': checksum(configData, props.resolveToken),
              // The platform's Prometheus scrapes annotated pods; its rate feeds the HPA.
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(SERVING_PORT),
              'prometheus.io/path': METRICS_PATH,
            },
          },
          spec: {
            serviceAccountName: this.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: p.preStopSleepSeconds + p.drainSeconds + 5,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: RUN_AS_USER,
              runAsGroup: RUN_AS_USER,
              fsGroup: RUN_AS_USER,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [
              {
                topologyKey: 'topology.kubernetes.io/zone',
                maxSkew: 1,
                whenUnsatisfiable: 'DoNotSchedule',
                labelSelector: { matchLabels: selector },
                matchLabelKeys: ['pod-template-hash'],
              },
              {
                topologyKey: 'kubernetes.io/hostname',
                maxSkew: 1,
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: selector },
                matchLabelKeys: ['pod-template-hash'],
              },
            ],
            containers: [
              {
                name,
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                ports: [{ name: 'http', containerPort: SERVING_PORT, protocol: 'TCP' }],
                envFrom: [{ configMapRef: { name: configMap.name } }],
                resources: { requests: resources, limits: resources },
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: RUN_AS_USER,
                  runAsGroup: RUN_AS_USER,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                startupProbe: {
                  // Up to 5 minutes to download and load the production model before the server
                  // listens; a store with no model yet listens at once. Liveness, not readiness:
                  // a pod waiting for its first model is healthy, never restarted.
                  httpGet: httpGet(LIVENESS_PATH),
                  periodSeconds: 5,
                  timeoutSeconds: 2,
                  failureThreshold: 60,
                },
                livenessProbe: {
                  httpGet: httpGet(LIVENESS_PATH),
                  periodSeconds: 10,
                  timeoutSeconds: 2,
                  failureThreshold: 3,
                },
                readinessProbe: {
                  httpGet: httpGet(READINESS_PATH),
                  periodSeconds: 5,
                  timeoutSeconds: 2,
                  failureThreshold: 2,
                },
                lifecycle: {
                  // The kubelet's sleep action: no shell or sleep binary needed in the image.
                  preStop: { sleep: { seconds: p.preStopSleepSeconds } },
                },
                volumeMounts: [
                  { name: 'tmp', mountPath: '/tmp' },
                  { name: 'api-keys', mountPath: SECRETS_MOUNT_PATH, readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'tmp', emptyDir: { sizeLimit: mebi(256) } },
              {
                name: 'api-keys',
                csi: {
                  driver: 'secrets-store.csi.k8s.io',
                  readOnly: true,
                  volumeAttributes: { secretProviderClass: secretProviderClass.name },
                },
              },
            ],
          },
        },
      },
    });

    new k8s.KubeService(this, 'Service', {
      metadata: meta(name),
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          {
            name: 'http',
            port: SERVING_PORT,
            targetPort: k8s.IntOrString.fromString('http'),
            protocol: 'TCP',
          },
        ],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Pdb', {
      metadata: meta(name),
      spec: {
        // maxUnavailable (not minAvailable) so a 1-replica dev stage can still drain a node.
        maxUnavailable: k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: selector },
        // A crash-looping pod must not block node drains.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });

    new k8s.KubeHorizontalPodAutoscalerV2(this, 'Hpa', {
      metadata: meta(name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: p.minReplicas,
        maxReplicas: p.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: { type: 'Utilization', averageUtilization: p.targetCpuUtilization },
            },
          },
          {
            type: 'Pods',
            pods: {
              metric: { name: p.requestsPerSecondMetric },
              target: {
                type: 'AverageValue',
                averageValue: k8s.Quantity.fromString(String(p.targetRequestsPerSecond)),
              },
            },
          },
        ],
        behavior: {
          scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: 'Max',
            policies: [
              { type: 'Percent', value: 100, periodSeconds: 30 },
              { type: 'Pods', value: 4, periodSeconds: 30 },
            ],
          },
          scaleDown: {
            stabilizationWindowSeconds: 300,
            // The Pods policy lets small deployments shrink too: 20% of 2 pods rounds to none.
            selectPolicy: 'Max',
            policies: [
              { type: 'Percent', value: 20, periodSeconds: 60 },
              { type: 'Pods', value: 1, periodSeconds: 60 },
            ],
          },
        },
      },
    });

    const albAnnotations: Record<string, string> = {
      'alb.ingress.kubernetes.io/scheme': p.internetFacing ? 'internet-facing' : 'internal',
      'alb.ingress.kubernetes.io/target-type': 'ip',
      'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS":443}]',
      'alb.ingress.kubernetes.io/certificate-arn': props.certificateArn,
      'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      'alb.ingress.kubernetes.io/backend-protocol': 'HTTP',
      'alb.ingress.kubernetes.io/healthcheck-path': READINESS_PATH,
      'alb.ingress.kubernetes.io/healthcheck-interval-seconds': '10',
      'alb.ingress.kubernetes.io/healthy-threshold-count': '2',
      'alb.ingress.kubernetes.io/unhealthy-threshold-count': '2',
      'alb.ingress.kubernetes.io/success-codes': '200',
      // In-flight requests get the whole pod shutdown window before the ALB cuts them.
      'alb.ingress.kubernetes.io/target-group-attributes': `deregistration_delay.timeout_seconds=${p.preStopSleepSeconds + p.drainSeconds}`,
      'alb.ingress.kubernetes.io/load-balancer-attributes':
        'routing.http.drop_invalid_header_fields.enabled=true,idle_timeout.timeout_seconds=60',
      'alb.ingress.kubernetes.io/tags': Object.entries(costAllocationTags(props))
        .map(([key, value]) => `${key}=${value}`)
        .join(','),
      ...(p.allowedClientCidrs.length > 0
        ? { 'alb.ingress.kubernetes.io/inbound-cidrs': p.allowedClientCidrs.join(',') }
        : {}),
      ...(props.webAclArn ? { 'alb.ingress.kubernetes.io/wafv2-acl-arn': props.webAclArn } : {}),
    };
    new k8s.KubeIngress(this, 'Ingress', {
      metadata: { ...meta(name), annotations: albAnnotations },
      spec: {
        ingressClassName: 'alb',
        rules: [
          {
            ...(props.hostname ? { host: props.hostname } : {}),
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name, port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      },
    });
  }

  private addNetworkPolicies(
    ns: string,
    teamLabels: Record<string, string>,
    selector: Record<string, string>,
    p: ResolvedProps,
  ): void {
    const metadata = (name: string) => ({ name, namespace: ns, labels: teamLabels });
    const tcp = (port: number): k8s.NetworkPolicyPort => ({
      protocol: 'TCP',
      port: k8s.IntOrString.fromNumber(port),
    });
    const namespaceNamed = (name: string): k8s.NetworkPolicyPeer => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
    });

    new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: metadata('default-deny-all'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });

    new k8s.KubeNetworkPolicy(this, 'AllowDns', {
      metadata: metadata('allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                ...namespaceNamed('kube-system'),
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) }, tcp(53)],
          },
        ],
      },
    });

    new k8s.KubeNetworkPolicy(this, 'AllowServingIngress', {
      metadata: metadata('allow-inference-ingress'),
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            // The ALB (target type ip) and its health checks, from the load balancer subnets.
            from: p.loadBalancerSourceCidrs.map((cidr) => ({ ipBlock: { cidr } })),
            ports: [tcp(SERVING_PORT)],
          },
          ...(p.metricsScraperNamespaces.length > 0
            ? [
                {
                  from: p.metricsScraperNamespaces.map(namespaceNamed),
                  ports: [tcp(SERVING_PORT)],
                },
              ]
            : []),
        ],
      },
    });

    const egress: k8s.NetworkPolicyEgressRule[] = [
      {
        // AWS APIs (S3, STS, Secrets Manager, CloudWatch) through VPC endpoints or NAT.
        to: p.httpsEgressCidrs.map((cidr) => ({
          ipBlock: { cidr, ...(cidr === '0.0.0.0/0' ? { except: [IMDS_CIDR] } : {}) },
        })),
        ports: [tcp(443)],
      },
    ];
    if (p.podIdentityKind === 'eks-pod-identity') {
      egress.push({
        // The node-local EKS Pod Identity agent serves the pod's credentials over HTTP.
        to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT_CIDR } }],
        ports: [tcp(80)],
      });
    }
    new k8s.KubeNetworkPolicy(this, 'AllowServingEgress', {
      metadata: metadata('allow-inference-egress'),
      spec: { podSelector: { matchLabels: selector }, policyTypes: ['Egress'], egress },
    });
  }
}

const IMDS_CIDR = '169.254.169.254/32';
const POD_IDENTITY_AGENT_CIDR = '169.254.170.23/32';

type ResolvedProps = ReturnType<typeof resolveProps>;

function resolveProps(scope: Construct, props: ServingChartProps) {
  const fail = (prop: string, value: unknown, fix: string): never => {
    throw new Error(
      `${scope.node.path}: ${prop} ${JSON.stringify(value)} is invalid: ${fix} (ServingChart)`,
    );
  };
  const literal = (v: string | undefined): v is string => v !== undefined && !Token.isUnresolved(v);
  const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  const wholeIn = (prop: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      fail(prop, v, `use a whole number from ${min} to ${max}`);
    }
    return v;
  };

  for (const [prop, v] of [
    ['team', props.team],
    ['stage', props.stage],
  ] as const) {
    if (!dnsLabel.test(v)) fail(prop, v, 'use lowercase letters, digits and dashes');
  }
  const namespace = props.namespace ?? `${props.team}-${props.stage}`;
  if (!dnsLabel.test(namespace)) {
    fail('namespace', namespace, 'use a DNS label: at most 63 lowercase letters, digits, dashes');
  }
  if (literal(props.modelName) && !MODEL_NAME_PATTERN.test(props.modelName)) {
    fail(
      'modelName',
      props.modelName,
      'use a DNS label: at most 63 lowercase letters, digits, dashes',
    );
  }
  if (literal(props.image) && props.image.trim() === '') {
    fail('image', props.image, 'pass the image URI, e.g. DockerImageAsset.imageUri');
  }
  // The bucket may be a token (its name resolves at deploy); the prefix never is.
  const storeUri = new RegExp(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/${MODEL_STORE_PREFIX}$`);
  const store = props.modelStore;
  const storeOk = Token.isUnresolved(store)
    ? store.startsWith('s3://') && store.endsWith(`/${MODEL_STORE_PREFIX}`)
    : storeUri.test(store);
  if (!storeOk) {
    fail(
      'modelStore',
      props.modelStore,
      `use s3://<models bucket>/${MODEL_STORE_PREFIX} (the store root the publisher writes; see docs/model-bundle.md)`,
    );
  }
  if (
    literal(props.certificateArn) &&
    !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(props.certificateArn)
  ) {
    fail(
      'certificateArn',
      props.certificateArn,
      'use an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>',
    );
  }
  const role = props.podIdentity.roleArn;
  if (literal(role) && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(role)) {
    fail(
      'podIdentity',
      role,
      'PodIdentity.irsa() needs an IAM role ARN: arn:aws:iam::<account>:role/<name>',
    );
  }
  if (props.capture) {
    const { uri, sampleRate } = props.capture;
    if (!(sampleRate >= 0 && sampleRate <= 1)) {
      fail('capture.sampleRate', sampleRate, 'use a share of requests from 0 to 1');
    }
    if (literal(uri) && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(uri)) {
      fail('capture.uri', uri, 'use s3://<bucket>/<prefix>');
    }
  }
  const perPod = props.perPodRateLimit;
  if (perPod !== undefined && !(Number.isInteger(perPod) && perPod >= 1)) {
    fail('perPodRateLimit', perPod, 'use a whole number of requests per second, at least 1');
  }
  const logSample = props.accessLog?.sampleRate;
  if (logSample !== undefined && !(logSample >= 0 && logSample <= 1)) {
    fail('accessLog.sampleRate', logSample, 'use a share of requests from 0 to 1');
  }
  const slowMs = props.accessLog?.slowRequestMs;
  if (slowMs !== undefined && !(slowMs >= 0 && slowMs <= 600000)) {
    fail('accessLog.slowRequestMs', slowMs, 'use milliseconds from 0 to 600000');
  }
  if (literal(props.apiKeysSecret) && props.apiKeysSecret.trim() === '') {
    fail('apiKeysSecret', props.apiKeysSecret, 'pass the Secrets Manager secret name or ARN');
  }
  if (literal(props.region) && !/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/.test(props.region)) {
    fail('region', props.region, 'use an AWS region like eu-west-1');
  }
  if (
    literal(props.hostname) &&
    !/^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(props.hostname)
  ) {
    fail('hostname', props.hostname, 'use a DNS name like api.example.com');
  }
  const cidrs = (prop: string, list: readonly string[], required: boolean) => {
    if (required && list.length === 0) fail(prop, list, 'list at least one CIDR');
    list.filter(literal).forEach((c) => {
      if (!isIpv4Cidr(c)) fail(prop, c, 'use IPv4 CIDRs like 10.0.0.0/16');
    });
    return list;
  };
  cidrs('loadBalancerSourceCidrs', props.loadBalancerSourceCidrs, true);
  const internetFacing = props.internetFacing ?? false;
  const allowedClientCidrs = cidrs('allowedClientCidrs', props.allowedClientCidrs ?? [], false);
  if (internetFacing && allowedClientCidrs.length === 0) {
    fail(
      'allowedClientCidrs',
      allowedClientCidrs,
      'an internet-facing ALB needs an explicit client allow-list (use ["0.0.0.0/0"] to mean the whole internet)',
    );
  }

  const minReplicas = wholeIn('minReplicas', props.minReplicas ?? 2, 1, 500);
  const maxReplicas = wholeIn('maxReplicas', props.maxReplicas ?? 10, 1, 500);
  if (minReplicas > maxReplicas) {
    fail(
      'minReplicas',
      minReplicas,
      `must be <= maxReplicas (${maxReplicas}): raise maxReplicas or lower minReplicas`,
    );
  }
  const cpuMillicores = wholeIn('cpuMillicores', props.cpuMillicores ?? 1000, 50, 256000);
  const memoryMiB = wholeIn('memoryMiB', props.memoryMiB ?? 512, 64, 1048576);
  const pods = maxReplicas + 1;
  const quota = {
    cpuMillicores: wholeIn(
      'quota.cpuMillicores',
      props.quota?.cpuMillicores ?? pods * cpuMillicores,
      1,
      10_000_000,
    ),
    memoryMiB: wholeIn(
      'quota.memoryMiB',
      props.quota?.memoryMiB ?? pods * memoryMiB,
      1,
      100_000_000,
    ),
  };
  const enough = (prop: string, total: number, perPod: number) => {
    if (total < perPod * maxReplicas) {
      fail(
        `quota.${prop}`,
        total,
        `cannot fit maxReplicas (${maxReplicas}) pods of ${perPod}: raise it or lower maxReplicas`,
      );
    }
  };
  enough('cpuMillicores', quota.cpuMillicores, cpuMillicores);
  enough('memoryMiB', quota.memoryMiB, memoryMiB);

  const l = props.limitRange ?? {};
  const limitRange = {
    defaultRequestCpuMillicores: wholeIn(
      'limitRange.defaultRequestCpuMillicores',
      l.defaultRequestCpuMillicores ?? 250,
      1,
      256000,
    ),
    defaultRequestMemoryMiB: wholeIn(
      'limitRange.defaultRequestMemoryMiB',
      l.defaultRequestMemoryMiB ?? 256,
      1,
      1048576,
    ),
    defaultLimitCpuMillicores: wholeIn(
      'limitRange.defaultLimitCpuMillicores',
      l.defaultLimitCpuMillicores ?? 500,
      1,
      256000,
    ),
    defaultLimitMemoryMiB: wholeIn(
      'limitRange.defaultLimitMemoryMiB',
      l.defaultLimitMemoryMiB ?? 512,
      1,
      1048576,
    ),
    maxCpuMillicores: wholeIn(
      'limitRange.maxCpuMillicores',
      l.maxCpuMillicores ?? Math.max(4000, cpuMillicores),
      1,
      256000,
    ),
    maxMemoryMiB: wholeIn(
      'limitRange.maxMemoryMiB',
      l.maxMemoryMiB ?? Math.max(8192, memoryMiB),
      1,
      1048576,
    ),
  };
  if (cpuMillicores > limitRange.maxCpuMillicores || memoryMiB > limitRange.maxMemoryMiB) {
    fail(
      'limitRange',
      limitRange,
      `the service's own pods (${cpuMillicores}m, ${memoryMiB}Mi) must fit under max`,
    );
  }

  const preStopSleepSeconds = wholeIn(
    'preStopSleepSeconds',
    props.preStopSleepSeconds ?? 15,
    0,
    300,
  );
  const drainSeconds = wholeIn('drainSeconds', props.drainSeconds ?? 25, 1, 600);
  const requestsPerSecondMetric = props.requestsPerSecondMetric ?? REQUESTS_PER_SECOND_METRIC;
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(requestsPerSecondMetric)) {
    fail('requestsPerSecondMetric', requestsPerSecondMetric, 'use a Prometheus-style metric name');
  }
  const targetRequestsPerSecond = props.targetRequestsPerSecond ?? 50;
  if (!(targetRequestsPerSecond > 0)) {
    fail('targetRequestsPerSecond', targetRequestsPerSecond, 'use a number above 0');
  }
  const aliasPollSeconds = props.aliasPollSeconds ?? 30;
  if (!(aliasPollSeconds >= 1 && aliasPollSeconds <= 86400)) {
    fail('aliasPollSeconds', aliasPollSeconds, 'use 1 to 86400 seconds');
  }
  const scrapers = props.metricsScraperNamespaces ?? ['amazon-cloudwatch', MONITORING_NAMESPACE];
  scrapers.forEach((n) => {
    if (!dnsLabel.test(n)) fail('metricsScraperNamespaces', n, 'use namespace names');
  });

  return {
    namespace,
    minReplicas,
    maxReplicas,
    cpuMillicores,
    memoryMiB,
    quota,
    limitRange,
    preStopSleepSeconds,
    drainSeconds,
    internetFacing,
    allowedClientCidrs,
    targetCpuUtilization: wholeIn('targetCpuUtilization', props.targetCpuUtilization ?? 70, 1, 100),
    targetRequestsPerSecond,
    requestsPerSecondMetric,
    aliasPollSeconds,
    metricsScraperNamespaces: scrapers,
    loadBalancerSourceCidrs: props.loadBalancerSourceCidrs,
    httpsEgressCidrs: cidrs('httpsEgressCidrs', props.httpsEgressCidrs ?? ['0.0.0.0/0'], true),
    podIdentityKind: props.podIdentity.kind,
  };
}

function isIpv4Cidr(c: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

function milli(m: number): k8s.Quantity {
  return k8s.Quantity.fromString(`${m}m`);
}

function mebi(mib: number): k8s.Quantity {
  return k8s.Quantity.fromString(`${mib}Mi`);
}

function checksum(
  data: Record<string, string>,
  resolve: (value: string) => unknown = (v) => v,
): string {
  const sorted = Object.keys(data)
    .sort()
    .map((k) => `${k}=${JSON.stringify(resolve(data[k]))}`)
    .join('\n');
  return createHash('sha256').update(sorted).digest('hex').slice(0, 16);
}
