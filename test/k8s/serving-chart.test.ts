import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Testing } from 'cdk8s';
import {
  API_KEYS_FILE,
  PodIdentity,
  SERVING_ENV,
  ServingChart,
  type ServingChartProps,
} from '../../constructs/k8s';
import { MONITORING_NAMESPACE } from '../../constructs/k8s-versions';
import { SERVING_METRICS_NAMESPACE } from '../../constructs/monitoring';
import { loadConfig } from '../../serving/src/config';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are plain JSON */
type Manifest = any;

const ROLE_ARN = 'arn:aws:iam::123456789012:role/mlp-fraud-dev-serving';
const CERT_ARN =
  'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789';

function props(overrides: Partial<ServingChartProps> = {}): ServingChartProps {
  return {
    team: 'fraud',
    stage: 'dev',
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving:abc123',
    modelStore: 's3://mlp-fraud-dev-models/models',
    modelName: 'fraud',
    podIdentity: PodIdentity.irsa(ROLE_ARN),
    apiKeysSecret: 'mlp/fraud/dev/api-keys',
    certificateArn: CERT_ARN,
    loadBalancerSourceCidrs: ['10.0.0.0/16'],
    region: 'eu-west-1',
    minReplicas: 2,
    maxReplicas: 6,
    ...overrides,
  };
}

function synth(overrides: Partial<ServingChartProps> = {}): Manifest[] {
  return Testing.synth(new ServingChart(Testing.app(), 'Serving', props(overrides)));
}

function one(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter(
    (m) => m.kind === kind && (name === undefined || m.metadata.name === name),
  );
  expect(found).toHaveLength(1);
  return found[0];
}

function podSpec(manifests: Manifest[]): Manifest {
  return one(manifests, 'Deployment').spec.template.spec;
}

describe('ServingChart manifests', () => {
  const manifests = synth();

  test('snapshot of every object (review aid)', () => {
    expect(manifests).toMatchSnapshot();
  });

  test('is deterministic: two synths are identical', () => {
    expect(JSON.stringify(synth())).toEqual(JSON.stringify(manifests));
  });

  test('every namespaced object lives in the team namespace, created first', () => {
    // THEN
    expect(manifests[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'fraud-dev' } });
    for (const m of manifests.slice(1)) expect(m.metadata.namespace).toBe('fraud-dev');
  });

  test('namespace enforces, audits and warns Pod Security Admission "restricted"', () => {
    const labels = one(manifests, 'Namespace').metadata.labels;
    expect(labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
      'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled',
    });
  });

  test('resource quota caps CPU, memory and GPUs and forbids NodePort/LoadBalancer services', () => {
    // GIVEN 6 replicas of 1000m / 512Mi: quota defaults to 7 pods' worth
    const hard = one(manifests, 'ResourceQuota').spec.hard;
    expect(hard).toEqual({
      'requests.cpu': '7000m',
      'limits.cpu': '7000m',
      'requests.memory': '3584Mi',
      'limits.memory': '3584Mi',
      'requests.nvidia.com/gpu': 0,
      'services.nodeports': 0,
      'services.loadbalancers': 0,
    });
  });

  test('quota and limit range come from props', () => {
    // WHEN
    const m = synth({
      quota: { cpuMillicores: 16000, memoryMiB: 32768 },
      limitRange: { maxCpuMillicores: 2000, maxMemoryMiB: 4096 },
    });
    // THEN
    expect(one(m, 'ResourceQuota').spec.hard).toMatchObject({
      'requests.cpu': '16000m',
      'requests.memory': '32768Mi',
      'requests.nvidia.com/gpu': 0,
    });
    expect(one(m, 'LimitRange').spec.limits).toEqual([
      {
        type: 'Container',
        defaultRequest: { cpu: '250m', memory: '256Mi' },
        default: { cpu: '500m', memory: '512Mi' },
        max: { cpu: '2000m', memory: '4096Mi' },
      },
    ]);
  });

  describe('network policies', () => {
    const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');

    test('deny all ingress and egress for every pod by default', () => {
      const deny = one(manifests, 'NetworkPolicy', 'default-deny-all').spec;
      expect(deny).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    });

    test('allow DNS only to kube-dns on port 53', () => {
      const dns = one(manifests, 'NetworkPolicy', 'allow-dns').spec;
      expect(dns.egress).toEqual([
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ]);
    });

    test('admit only the load balancer subnets and the metrics scrapers, only on 8080', () => {
      const ingress = one(manifests, 'NetworkPolicy', 'allow-inference-ingress').spec.ingress;
      const namespaceNamed = (name: string) => ({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
      });
      expect(ingress).toEqual([
        { from: [{ ipBlock: { cidr: '10.0.0.0/16' } }], ports: [{ protocol: 'TCP', port: 8080 }] },
        {
          // The CloudWatch agent and the platform's Prometheus (the HPA's requests metric).
          from: [namespaceNamed('amazon-cloudwatch'), namespaceNamed(MONITORING_NAMESPACE)],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ]);
    });

    test('metricsScraperNamespaces replaces the default scrapers', () => {
      const m = synth({ metricsScraperNamespaces: ['observability'] });
      const ingress = one(m, 'NetworkPolicy', 'allow-inference-ingress').spec.ingress;
      expect(ingress[1].from).toEqual([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } },
      ]);
    });

    test('egress is HTTPS only, never to the instance metadata service', () => {
      const egress = one(manifests, 'NetworkPolicy', 'allow-inference-egress').spec.egress;
      expect(egress).toEqual([
        {
          to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }],
          ports: [{ protocol: 'TCP', port: 443 }],
        },
      ]);
    });

    test('every allow rule names its ports (nothing is open on all ports)', () => {
      for (const p of policies) {
        for (const rule of [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])]) {
          expect(rule.ports?.length).toBeGreaterThan(0);
        }
      }
    });

    test('EKS Pod Identity adds egress to the node-local agent only', () => {
      const m = synth({ podIdentity: PodIdentity.eksPodIdentity() });
      const egress = one(m, 'NetworkPolicy', 'allow-inference-egress').spec.egress;
      expect(egress).toContainEqual({
        to: [{ ipBlock: { cidr: '169.254.170.23/32' } }],
        ports: [{ protocol: 'TCP', port: 80 }],
      });
      expect(egress).toHaveLength(2);
    });
  });

  describe('service account and credentials', () => {
    test('IRSA: annotated with the role, API token not mounted', () => {
      const sa = one(manifests, 'ServiceAccount', 'inference');
      expect(sa.metadata.annotations).toEqual({
        'eks.amazonaws.com/role-arn': ROLE_ARN,
        'eks.amazonaws.com/sts-regional-endpoints': 'true',
      });
      expect(sa.automountServiceAccountToken).toBe(false);
      expect(podSpec(manifests)).toMatchObject({
        serviceAccountName: 'inference',
        automountServiceAccountToken: false,
      });
    });

    test('EKS Pod Identity: no role annotation, the secrets provider uses Pod Identity', () => {
      const m = synth({ podIdentity: PodIdentity.eksPodIdentity() });
      expect(one(m, 'ServiceAccount').metadata.annotations).toBeUndefined();
      expect(one(m, 'SecretProviderClass').spec.parameters.usePodIdentity).toBe('true');
    });

    test('API keys come from Secrets Manager through the CSI driver: no Secret, no value', () => {
      // THEN no Kubernetes Secret is created or synced
      expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
      const spc = one(manifests, 'SecretProviderClass');
      expect(spc.apiVersion).toBe('secrets-store.csi.x-k8s.io/v1');
      expect(spc.spec.secretObjects).toBeUndefined();
      expect(spc.spec.provider).toBe('aws');
      expect(JSON.parse(spc.spec.parameters.objects)).toEqual([
        {
          objectName: 'mlp/fraud/dev/api-keys',
          objectType: 'secretsmanager',
          objectAlias: 'api-keys',
        },
      ]);
      // AND the pod mounts it read-only and is told where the file is
      const spec = podSpec(manifests);
      expect(spec.volumes).toContainEqual({
        name: 'api-keys',
        csi: {
          driver: 'secrets-store.csi.k8s.io',
          readOnly: true,
          volumeAttributes: { secretProviderClass: spc.metadata.name },
        },
      });
      expect(spec.containers[0].volumeMounts).toContainEqual({
        name: 'api-keys',
        mountPath: '/mnt/secrets',
        readOnly: true,
      });
      expect(one(manifests, 'ConfigMap').data[SERVING_ENV.apiKeysFile]).toBe(API_KEYS_FILE);
      // AND the only env source is the ConfigMap (no secretKeyRef, no literal values)
      expect(spec.containers[0].env).toBeUndefined();
      expect(spec.containers[0].envFrom).toEqual([{ configMapRef: { name: 'inference-config' } }]);
    });
  });

  describe('deployment', () => {
    const spec = podSpec(manifests);
    const container = spec.containers[0];

    test('runs as uid 1000, non-root, RuntimeDefault seccomp at pod level', () => {
      expect(spec.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.hostNetwork).toBeUndefined();
      expect(spec.hostPID).toBeUndefined();
      expect(spec.enableServiceLinks).toBe(false);
    });

    test('container is restricted: read-only root, no escalation, all capabilities dropped', () => {
      expect(container.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    });

    test('writable /tmp is a size-limited emptyDir; no other writable volume', () => {
      expect(spec.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } });
      expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(spec.volumes.map((v: Manifest) => v.name).sort()).toEqual(['api-keys', 'tmp']);
    });

    test('image, port 8080 and probes on the Open Inference Protocol health endpoints', () => {
      expect(container.image).toBe(props().image);
      expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
      expect(container.livenessProbe.httpGet).toMatchObject({ path: '/v2/health/live' });
      expect(container.readinessProbe.httpGet).toMatchObject({ path: '/v2/health/ready' });
      expect(container.startupProbe).toMatchObject({
        httpGet: { path: '/v2/health/live', port: 'http' },
        failureThreshold: 60,
        periodSeconds: 5,
      });
    });

    test('a pod waiting for its first model is kept, not restarted: only readiness reads /v2/health/ready', () => {
      // The service answers live 200 / ready 503 while its store has no production model; a
      // startup or liveness probe on the ready route would restart it into a crash loop.
      const restarting = [container.startupProbe, container.livenessProbe];
      for (const probe of restarting) expect(probe.httpGet.path).toBe('/v2/health/live');
      expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
      // A not-ready pod must not block node drains either.
      expect(one(manifests, 'PodDisruptionBudget').spec.unhealthyPodEvictionPolicy).toBe(
        'AlwaysAllow',
      );
    });

    test('requests equal limits (Guaranteed QoS) from props', () => {
      const m = synth({ cpuMillicores: 2000, memoryMiB: 1024 });
      const { resources } = podSpec(m).containers[0];
      expect(resources).toEqual({
        requests: { cpu: '2000m', memory: '1024Mi' },
        limits: { cpu: '2000m', memory: '1024Mi' },
      });
    });

    test('rolling update never drops below the current count and the HPA owns replicas', () => {
      const d = one(manifests, 'Deployment').spec;
      expect(d.strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
      expect(d.replicas).toBeUndefined();
    });

    test('spreads pods over zones (hard) and nodes (soft)', () => {
      expect(spec.topologySpreadConstraints).toEqual([
        expect.objectContaining({
          topologyKey: 'topology.kubernetes.io/zone',
          maxSkew: 1,
          whenUnsatisfiable: 'DoNotSchedule',
        }),
        expect.objectContaining({
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'ScheduleAnyway',
        }),
      ]);
    });

    test('grace period covers the preStop sleep and the drain, which the service is told', () => {
      // WHEN
      const m = synth({ preStopSleepSeconds: 10, drainSeconds: 30 });
      // THEN
      const s = podSpec(m);
      expect(s.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
      expect(s.terminationGracePeriodSeconds).toBe(45);
      expect(one(m, 'ConfigMap').data).toMatchObject({
        SERVING_SHUTDOWN_TIMEOUT_MS: '30000',
        SERVING_SHUTDOWN_DELAY_MS: '0',
      });
      expect(one(m, 'Ingress').metadata.annotations).toMatchObject({
        'alb.ingress.kubernetes.io/target-group-attributes':
          'deregistration_delay.timeout_seconds=40',
      });
    });

    test('config map carries the model source, name, alias poll interval and metric dimensions', () => {
      expect(one(manifests, 'ConfigMap').data).toEqual({
        SERVING_MODEL_SOURCE: 's3://mlp-fraud-dev-models/models/fraud',
        SERVING_MODEL_NAME: 'fraud',
        SERVING_POLL_INTERVAL_S: '30',
        PORT: '8080',
        SERVING_API_KEYS_FILE: '/mnt/secrets/api-keys',
        SERVING_EMF: 'true',
        SERVING_EMF_NAMESPACE: SERVING_METRICS_NAMESPACE,
        SERVING_EMF_SINK: 'cloudwatch',
        SERVING_ACCESS_LOG_SAMPLE: '0.01',
        SERVING_SLOW_REQUEST_MS: '1000',
        SERVING_TEAM: 'fraud',
        SERVING_STAGE: 'dev',
        SERVING_SHUTDOWN_DELAY_MS: '0',
        SERVING_SHUTDOWN_TIMEOUT_MS: '25000',
        AWS_REGION: 'eu-west-1',
      });
    });

    test('capture is off by default and, when configured, writes to the given prefix', () => {
      expect(one(manifests, 'ConfigMap').data).not.toHaveProperty('SERVING_CAPTURE_URI');
      const captured = synth({
        capture: { uri: 's3://mlp-fraud-dev-processed/feedback', sampleRate: 0.05 },
      });
      expect(one(captured, 'ConfigMap').data).toMatchObject({
        SERVING_CAPTURE_URI: 's3://mlp-fraud-dev-processed/feedback',
        SERVING_CAPTURE_SAMPLE: '0.05',
      });
      expect(() => synth({ capture: { uri: 's3://b/feedback', sampleRate: 2 } })).toThrow(
        /capture.sampleRate 2 is invalid: use a share of requests from 0 to 1/,
      );
    });

    test('access logs: sampled share and slow threshold from props; fails outside 0..1', () => {
      const m = synth({ accessLog: { sampleRate: 0.1, slowRequestMs: 250 } });
      expect(one(m, 'ConfigMap').data).toMatchObject({
        SERVING_ACCESS_LOG_SAMPLE: '0.1',
        SERVING_SLOW_REQUEST_MS: '250',
      });
      expect(() => synth({ accessLog: { sampleRate: 1.5 } })).toThrow(
        /accessLog.sampleRate 1.5 is invalid: use a share of requests from 0 to 1/,
      );
    });

    test('pods invite the Prometheus scrape of /metrics on the http port (no API key needed)', () => {
      const template = one(manifests, 'Deployment').spec.template;
      expect(template.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '8080',
        'prometheus.io/path': '/metrics',
      });
      const container = template.spec.containers[0];
      expect(container.ports).toContainEqual(
        expect.objectContaining({ name: 'http', containerPort: 8080 }),
      );
      // /metrics asks for a key only with SERVING_AUTH_METRICS=true (serving/README.md).
      expect(one(manifests, 'ConfigMap').data).not.toHaveProperty('SERVING_AUTH_METRICS');
      expect(container.env ?? []).not.toContainEqual(
        expect.objectContaining({ name: 'SERVING_AUTH_METRICS' }),
      );
    });

    test('a config change rolls the pods (checksum annotation)', () => {
      const checksum = (m: Manifest[]) =>
        one(m, 'Deployment').spec.template.metadata.annotations['ml-platform/config-checksum'];
      expect(checksum(synth({ aliasPollSeconds: 60 }))).not.toEqual(checksum(manifests));
    });

    test('pods request no GPU and do not tolerate the GPU node taint', () => {
      const s = podSpec(manifests);
      expect(Object.keys(s.containers[0].resources.limits).sort()).toEqual(['cpu', 'memory']);
      expect(s.tolerations).toBeUndefined();
    });
  });

  test('Service is ClusterIP on the named http port', () => {
    expect(one(manifests, 'Service').spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  test('PodDisruptionBudget lets one pod go at a time, never blocked by unhealthy pods', () => {
    expect(one(manifests, 'PodDisruptionBudget').spec).toMatchObject({
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });

  test('HPA v2 scales the Deployment on CPU and requests per second between min and max', () => {
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'inference' },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
        {
          type: 'Pods',
          pods: {
            metric: { name: 'inference_requests_per_second' },
            target: { type: 'AverageValue', averageValue: '50' },
          },
        },
      ],
    });
  });

  describe('ingress', () => {
    test('internal HTTPS-only ALB with the ACM certificate, ip targets and readiness health check', () => {
      const ing = one(manifests, 'Ingress');
      expect(ing.spec.ingressClassName).toBe('alb');
      expect(ing.metadata.annotations).toMatchObject({
        'alb.ingress.kubernetes.io/scheme': 'internal',
        'alb.ingress.kubernetes.io/target-type': 'ip',
        'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS":443}]',
        'alb.ingress.kubernetes.io/certificate-arn': CERT_ARN,
        'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        'alb.ingress.kubernetes.io/healthcheck-path': '/v2/health/ready',
      });
      expect(ing.metadata.annotations['alb.ingress.kubernetes.io/inbound-cidrs']).toBeUndefined();
      expect(ing.spec.rules[0].http.paths[0].backend).toEqual({
        service: { name: 'inference', port: { name: 'http' } },
      });
    });

    test('internet-facing only with an explicit client allow-list', () => {
      const ing = one(
        synth({
          internetFacing: true,
          allowedClientCidrs: ['203.0.113.0/24'],
          hostname: 'api.example.com',
        }),
        'Ingress',
      );
      expect(ing.metadata.annotations).toMatchObject({
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        'alb.ingress.kubernetes.io/inbound-cidrs': '203.0.113.0/24',
      });
      expect(ing.spec.rules[0].host).toBe('api.example.com');
    });
  });

  test('accepts CDK tokens (resolved when applied with addCdk8sChart)', () => {
    // GIVEN values only known at deploy time
    const stack = new Stack(new App(), 'Tokens');
    const role = new iam.Role(stack, 'PodRole', {
      assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com'),
    });
    const bucket = new s3.Bucket(stack, 'Models');
    const cert = new CfnParameter(stack, 'Cert').valueAsString;
    // WHEN
    const m = synth({
      podIdentity: PodIdentity.irsa(role.roleArn),
      certificateArn: cert,
      modelStore: `s3://${bucket.bucketName}/models`,
      image: `${stack.account}.dkr.ecr.${stack.region}.amazonaws.com/serving:1`,
    });
    // THEN the token strings pass through unvalidated, to be resolved by CloudFormation
    expect(one(m, 'ServiceAccount').metadata.annotations['eks.amazonaws.com/role-arn']).toBe(
      role.roleArn,
    );
    expect(
      one(m, 'Ingress').metadata.annotations['alb.ingress.kubernetes.io/certificate-arn'],
    ).toBe(cert);
  });
});

describe('the service reads what the chart sets', () => {
  test("the ConfigMap is a valid service environment (the service's own loadConfig), with the fleet's prediction table", () => {
    const manifests = synth({
      capture: { uri: 's3://mlp-fraud-dev-processed/feedback', sampleRate: 0.05 },
      feedback: { predictionTable: 'mlp-fraud-dev-predictions', windowHours: 6 },
      perPodRateLimit: 200,
    });
    const data = one(manifests, 'ConfigMap').data as Record<string, string>;
    const config = loadConfig(data);
    expect(config.feedback).toEqual({
      cache: 20000,
      windowS: 6 * 3600,
      table: {
        name: 'mlp-fraud-dev-predictions',
        flushMs: 200,
        maxQueued: 50000,
        closeTimeoutMs: 5000,
      },
    });
    expect(config.capture?.uri).toBe('s3://mlp-fraud-dev-processed/feedback');
    expect(config.emf?.sink).toBe('cloudwatch');
    expect(config.rateLimit?.rps).toBe(200);
    expect([config.team, config.stage, config.modelName]).toEqual(['fraud', 'dev', 'fraud']);
    // Without a table, each pod remembers its own predictions.
    expect(loadConfig(one(synth(), 'ConfigMap').data).feedback.table).toBeNull();
  });
});

describe('ServingChart validation', () => {
  test.each([
    [{ minReplicas: 5, maxReplicas: 3 }, /minReplicas 5 is invalid: must be <= maxReplicas \(3\)/],
    [{ minReplicas: 0 }, /minReplicas 0 is invalid: use a whole number from 1/],
    [
      { certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' },
      /certificateArn .* ACM certificate ARN/,
    ],
    [
      { podIdentity: PodIdentity.irsa('my-role') },
      /podIdentity "my-role" is invalid: .*IAM role ARN/,
    ],
    [
      { modelStore: 'https://bucket/models' },
      /modelStore .* use s3:\/\/<models bucket>\/models \(the store root/,
    ],
    [{ modelStore: 's3://bucket/bundles' }, /modelStore "s3:\/\/bucket\/bundles" is invalid/],
    [
      { modelStore: 's3://bucket/models/fraud' },
      /modelStore .* is invalid: use s3:\/\/<models bucket>\/models/,
    ],
    [{ modelName: 'Fraud_Model' }, /modelName "Fraud_Model" is invalid: use a DNS label/],
    [
      { loadBalancerSourceCidrs: [] },
      /loadBalancerSourceCidrs \[\] is invalid: list at least one CIDR/,
    ],
    [
      { loadBalancerSourceCidrs: ['10.0.0.0/33'] },
      /loadBalancerSourceCidrs "10.0.0.0\/33" .* IPv4 CIDRs/,
    ],
    [{ internetFacing: true }, /allowedClientCidrs \[\] is invalid: an internet-facing ALB needs/],
    [{ team: 'Fraud' }, /team "Fraud" is invalid/],
    [{ region: 'europe' }, /region "europe" is invalid/],
    [
      { quota: { cpuMillicores: 2000 } },
      /quota.cpuMillicores 2000 is invalid: cannot fit maxReplicas \(6\)/,
    ],
    [
      { cpuMillicores: 4000, limitRange: { maxCpuMillicores: 2000 } },
      /limitRange .* must fit under max/,
    ],
    [{ drainSeconds: 0 }, /drainSeconds 0 is invalid/],
  ] as [Partial<ServingChartProps>, RegExp][])('fails for %j', (overrides, message) => {
    expect(() => synth(overrides)).toThrow(message);
  });

  test('fails with the chart path in the message', () => {
    expect(() => synth({ minReplicas: 9, maxReplicas: 1 })).toThrow(/^Serving: /);
  });
});
