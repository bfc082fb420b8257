import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { REQUESTS_PER_SECOND_METRIC } from '../../constructs/k8s';
import { K8S_VERSIONS, MONITORING_NAMESPACE } from '../../constructs/k8s-versions';
import {
  PROMETHEUS_SERVER,
  REQUESTS_PER_SECOND_RULE,
  SERVING_REQUEST_COUNTER,
  ServingCluster,
} from '../../constructs/serving';
import { testApp } from '../helpers/teams';

/* eslint-disable @typescript-eslint/no-explicit-any -- Helm values are plain JSON */
type Values = any;

/**
 * The custom metrics path of the teams' HPAs: pod /metrics → Prometheus → prometheus-adapter →
 * `custom.metrics.k8s.io`. One synth of a cluster with default options.
 */
describe('ServingCluster custom metrics for the HPA (one synth)', () => {
  let template: Template;
  const release = (chart: string) => {
    const found = Object.entries(
      template.findResources('Custom::AWSCDK-EKS-HelmChart', { Properties: { Chart: chart } }),
    );
    expect(found).toHaveLength(1);
    const [id, resource] = found[0];
    return {
      id,
      dependsOn: (resource.DependsOn ?? []) as string[],
      props: resource.Properties,
      values: JSON.parse(resource.Properties.Values) as Values,
    };
  };

  beforeAll(() => {
    // GIVEN
    const stack = new Stack(testApp(), 'Test', {
      env: { account: '111111111111', region: 'eu-west-1' },
    });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      natGateways: 1,
    });
    // WHEN
    new ServingCluster(stack, 'Serving', { vpc, clusterName: 'test-cluster' });
    template = Template.fromStack(stack);
  });

  test('Prometheus and prometheus-adapter are pinned from the versions module, in the monitoring namespace', () => {
    for (const pinned of [K8S_VERSIONS.helm.prometheus, K8S_VERSIONS.helm.prometheusAdapter]) {
      template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
        Chart: pinned.chart,
        Repository: pinned.repository,
        Version: pinned.version,
        Release: pinned.chart,
        Namespace: MONITORING_NAMESPACE,
        // The namespace is created (with Pod Security labels) before the releases, not by Helm.
        CreateNamespace: Match.absent(),
        Wait: true,
      });
    }
  });

  test('the monitoring namespace exists before the releases, with Pod Security labels', () => {
    const manifests = Object.entries(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
    ).filter(([, r]) => JSON.stringify(r.Properties.Manifest).includes(MONITORING_NAMESPACE));
    expect(manifests).toHaveLength(1);
    const [namespaceId, resource] = manifests[0];
    const [namespace] = JSON.parse(resource.Properties.Manifest);
    expect(namespace).toMatchObject({
      kind: 'Namespace',
      metadata: {
        name: MONITORING_NAMESPACE,
        labels: {
          'pod-security.kubernetes.io/enforce': 'baseline',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
        },
      },
    });
    const prometheus = release(K8S_VERSIONS.helm.prometheus.chart);
    expect(prometheus.dependsOn).toContain(namespaceId);
    expect(release(K8S_VERSIONS.helm.prometheusAdapter.chart).dependsOn).toContain(prometheus.id);
  });

  test('Prometheus: the server alone, non-root, resources set, emptyDir with short retention, on CPU nodes', () => {
    const { values } = release(K8S_VERSIONS.helm.prometheus.chart);
    for (const sub of [
      'alertmanager',
      'prometheus-pushgateway',
      'prometheus-node-exporter',
      'kube-state-metrics',
    ]) {
      expect(values[sub]).toEqual({ enabled: false });
    }
    const { server } = values;
    expect(server).toMatchObject({
      retention: '6h',
      persistentVolume: { enabled: false },
      emptyDir: { sizeLimit: '2Gi' },
      nodeSelector: { 'ml-platform/node-class': 'cpu' },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65534,
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
    for (const container of [server, values.configmapReload.prometheus]) {
      expect(container.resources).toEqual({
        requests: { cpu: expect.any(String), memory: expect.any(String) },
        limits: { cpu: expect.any(String), memory: expect.any(String) },
      });
      expect(container.containerSecurityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('Prometheus scrapes only running pods annotated prometheus.io/scrape, labelled by namespace and pod', () => {
    const { values } = release(K8S_VERSIONS.helm.prometheus.chart);
    // A rate over 2 minutes needs several samples: the chart's default interval is 1m.
    expect(values.server.global.scrape_interval).toBe('15s');
    const jobs = values.serverFiles['prometheus.yml'].scrape_configs;
    expect(jobs).toHaveLength(1);
    const [job] = jobs;
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    expect(job.relabel_configs).toEqual(
      expect.arrayContaining([
        {
          source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'],
          action: 'keep',
          regex: 'true',
        },
        expect.objectContaining({
          source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'],
          target_label: '__metrics_path__',
        }),
        expect.objectContaining({
          source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
          target_label: '__address__',
        }),
        // The labels the adapter rule maps to Kubernetes objects.
        expect.objectContaining({
          source_labels: ['__meta_kubernetes_namespace'],
          target_label: 'namespace',
        }),
        expect.objectContaining({
          source_labels: ['__meta_kubernetes_pod_name'],
          target_label: 'pod',
        }),
      ]),
    );
    // The port rewrite turns "<pod IP>:<any>" + annotation "8080" into "<pod IP>:8080".
    const portRule = job.relabel_configs.find((r: Values) => r.target_label === '__address__');
    const joined = '10.0.1.23:8080;8080'.replace(new RegExp(`^${portRule.regex}$`), '$1:$2');
    expect(joined).toBe('10.0.1.23:8080');
  });

  test("the adapter's Prometheus URL is the Prometheus release's service, namespace and port", () => {
    const prometheus = release(K8S_VERSIONS.helm.prometheus.chart);
    const adapter = release(K8S_VERSIONS.helm.prometheusAdapter.chart);
    const server = prometheus.values.server;
    expect(adapter.values.prometheus).toEqual({
      url: `http://${server.fullnameOverride}.${prometheus.props.Namespace}.svc`,
      port: server.service.servicePort,
      path: '',
    });
    expect(server.fullnameOverride).toBe(PROMETHEUS_SERVER.serviceName);
    expect(prometheus.props.Namespace).toBe(PROMETHEUS_SERVER.namespace);
  });

  test('the adapter has exactly one rule: inference_requests_per_second, the per-pod rate of the request counter', () => {
    const { values } = release(K8S_VERSIONS.helm.prometheusAdapter.chart);
    // Default rules off; a custom rule makes the chart register v1beta1.custom.metrics.k8s.io.
    // No external rules and no resource rules: metrics.k8s.io stays with metrics-server.
    expect(values.rules).toEqual({
      default: false,
      custom: [REQUESTS_PER_SECOND_RULE],
      external: [],
      resource: null,
    });
    expect(REQUESTS_PER_SECOND_RULE).toEqual({
      seriesQuery: 'prediction_duration_seconds_count{namespace!="",pod!=""}',
      resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
      name: { matches: '^prediction_duration_seconds_count$', as: 'inference_requests_per_second' },
      metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)',
    });
    // The name the team chart's HPA asks for by default.
    expect(REQUESTS_PER_SECOND_RULE.name.as).toBe(REQUESTS_PER_SECOND_METRIC);
  });

  test('the adapter: two non-root replicas with a PDB and resources, on CPU nodes', () => {
    const { values } = release(K8S_VERSIONS.helm.prometheusAdapter.chart);
    expect(values).toMatchObject({
      replicas: 2,
      podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
      nodeSelector: { 'ml-platform/node-class': 'cpu' },
      podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      securityContext: {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      resources: { requests: expect.any(Object), limits: expect.any(Object) },
    });
  });
});

describe('the request counter the adapter reads', () => {
  test('is the _count of a histogram the inference service defines, labelled model/version/endpoint', () => {
    // GIVEN the service's metric definitions (serving/src/metrics.ts)
    const source = fs.readFileSync(path.join(__dirname, '../../serving/src/metrics.ts'), 'utf8');
    // THEN the histogram exists under the name the rule derives the counter from
    const histogram = SERVING_REQUEST_COUNTER.replace(/_count$/, '');
    const definition = new RegExp(
      `new Histogram\\(\\{\\s*name: '${histogram}',[^}]*labelNames: \\['model', 'version', 'endpoint'\\]`,
    );
    expect(source).toMatch(definition);
  });
});
