import { REQUESTS_PER_SECOND_METRIC } from '../k8s/serving-chart';
import { MONITORING_NAMESPACE } from '../k8s-versions';

/**
 * The custom metrics path of the teams' HPAs, as Helm values:
 *
 *   inference pod `/metrics` ──scrape──► Prometheus ──PromQL──► prometheus-adapter
 *   ──`custom.metrics.k8s.io`──► HPA (`inference_requests_per_second`, a Pods metric).
 *
 * Pure functions and constants, so the contract between the three (service name, port,
 * counter, rule) is asserted in tests without a synth.
 */

/** Where the adapter finds Prometheus: the server's Service (its name is fixed by a value). */
export const PROMETHEUS_SERVER = {
  serviceName: 'prometheus-server',
  namespace: MONITORING_NAMESPACE,
  port: 80,
} as const;

/** Base URL of the Prometheus API inside the cluster (the adapter appends `:port`). */
export const PROMETHEUS_URL = `http://${PROMETHEUS_SERVER.serviceName}.${PROMETHEUS_SERVER.namespace}.svc`;

/**
 * The service's request counter: the `_count` series of its `prediction_duration_seconds`
 * histogram (serving/src/metrics.ts), observed once per inference request (health, metrics
 * and docs requests are not counted), labelled `model`, `version` and `endpoint`.
 */
export const SERVING_REQUEST_COUNTER = 'prediction_duration_seconds_count';

/** Window of the rate: eight scrapes at the 15 s interval, robust to one missed scrape. */
export const RATE_WINDOW = '2m';
export const SCRAPE_INTERVAL = '15s';

/**
 * The adapter's only rule: requests per second per pod, summed over the counter's model,
 * version and endpoint labels. `namespace` and `pod` are the target labels the scrape job
 * sets; the adapter maps them to the Kubernetes objects the HPA asks about.
 */
export const REQUESTS_PER_SECOND_RULE = {
  seriesQuery: `${SERVING_REQUEST_COUNTER}{namespace!="",pod!=""}`,
  resources: {
    overrides: {
      namespace: { resource: 'namespace' },
      pod: { resource: 'pod' },
    },
  },
  name: { matches: `^${SERVING_REQUEST_COUNTER}$`, as: REQUESTS_PER_SECOND_METRIC },
  metricsQuery: `sum(rate(<<.Series>>{<<.LabelMatchers>>}[${RATE_WINDOW}])) by (<<.GroupBy>>)`,
} as const;

/**
 * One scrape job: pods annotated `prometheus.io/scrape: "true"` (ServingChart sets it with
 * `prometheus.io/port` and `prometheus.io/path`), running, with `namespace` and `pod` labels.
 * The chart's default jobs (API servers, nodes, cAdvisor, service endpoints) are left out: this
 * Prometheus exists for the HPA, and every extra series costs memory.
 */
export const ANNOTATED_PODS_SCRAPE_JOB = {
  job_name: 'annotated-pods',
  honor_labels: false,
  kubernetes_sd_configs: [{ role: 'pod' }],
  relabel_configs: [
    {
      source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'],
      action: 'keep',
      regex: 'true',
    },
    {
      source_labels: ['__meta_kubernetes_pod_phase'],
      action: 'drop',
      regex: 'Pending|Succeeded|Failed',
    },
    {
      source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'],
      action: 'replace',
      target_label: '__metrics_path__',
      regex: '(.+)',
    },
    {
      source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
      action: 'replace',
      target_label: '__address__',
      regex: '(.+?)(?::\\d+)?;(\\d+)',
      replacement: '$1:$2',
    },
    { source_labels: ['__meta_kubernetes_namespace'], action: 'replace', target_label: 'namespace' },
    { source_labels: ['__meta_kubernetes_pod_name'], action: 'replace', target_label: 'pod' },
  ],
} as const;

const RUNTIME_DEFAULT_SECCOMP = { type: 'RuntimeDefault' } as const;

/** Container security context of every container here (Pod Security `restricted`). */
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: RUNTIME_DEFAULT_SECCOMP,
} as const;

/** Pod security context: the image's non-root user and group, RuntimeDefault seccomp. */
function restrictedPod(user: number) {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: user,
    fsGroup: user,
    seccompProfile: RUNTIME_DEFAULT_SECCOMP,
  };
}

/** The `nobody` user the Prometheus image runs as. */
const PROMETHEUS_USER = 65534;
/** The non-root user the prometheus-adapter image runs as (its chart's default). */
const ADAPTER_USER = 10001;

/**
 * Values of the prometheus-community `prometheus` chart: the server alone (no Alertmanager,
 * Pushgateway, node exporter or kube-state-metrics), scraping annotated pods every 15 s.
 *
 * Storage is an emptyDir with a size limit, not a PVC: the HPA reads only the last two
 * minutes, so a restart costs about two minutes without the requests metric (the HPA then
 * holds scale-down and still scales up on CPU). A gp3 PVC would need the EBS CSI driver (not
 * installed) and would pin the pod to one zone. Retention is 6 hours, for debugging a scaling
 * decision, not for dashboards (those come from CloudWatch).
 */
export function prometheusValues(nodeSelector: Record<string, string>): Record<string, unknown> {
  return {
    alertmanager: { enabled: false },
    'prometheus-pushgateway': { enabled: false },
    'prometheus-node-exporter': { enabled: false },
    'kube-state-metrics': { enabled: false },
    configmapReload: {
      prometheus: {
        containerSecurityContext: RESTRICTED_CONTAINER,
        resources: {
          requests: { cpu: '10m', memory: '32Mi' },
          limits: { cpu: '100m', memory: '64Mi' },
        },
      },
    },
    server: {
      fullnameOverride: PROMETHEUS_SERVER.serviceName,
      global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: '10s', evaluation_interval: '1m' },
      retention: '6h',
      persistentVolume: { enabled: false },
      emptyDir: { sizeLimit: '2Gi' },
      service: { servicePort: PROMETHEUS_SERVER.port },
      resources: {
        requests: { cpu: '250m', memory: '512Mi' },
        limits: { cpu: '1', memory: '1Gi' },
      },
      securityContext: restrictedPod(PROMETHEUS_USER),
      containerSecurityContext: RESTRICTED_CONTAINER,
      nodeSelector,
    },
    serverFiles: {
      // Replaces the chart's list of jobs (Helm merges maps, but replaces lists).
      'prometheus.yml': { scrape_configs: [ANNOTATED_PODS_SCRAPE_JOB] },
    },
  };
}

/**
 * Values of the prometheus-community `prometheus-adapter` chart: pointed at
 * {@link PROMETHEUS_SERVER}, with only {@link REQUESTS_PER_SECOND_RULE}. The chart's default
 * rules are off, and it registers neither `external.metrics.k8s.io` nor `metrics.k8s.io` (the
 * latter stays with metrics-server, which the HPA's CPU target uses). It registers
 * `v1beta1.custom.metrics.k8s.io` for the custom rule, with the self-signed serving certificate
 * the adapter generates (`insecureSkipTLSVerify`, the chart's default without `tls.enable`).
 * Two replicas and a PDB: while the API is unavailable, HPAs cannot scale on requests.
 */
export function prometheusAdapterValues(
  nodeSelector: Record<string, string>,
): Record<string, unknown> {
  return {
    prometheus: { url: PROMETHEUS_URL, port: PROMETHEUS_SERVER.port, path: '' },
    metricsRelistInterval: '1m',
    rules: {
      default: false,
      custom: [REQUESTS_PER_SECOND_RULE],
      external: [],
      // null removes any chart default: no resource metrics API next to metrics-server.
      resource: null,
    },
    replicas: 2,
    podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
    resources: {
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { cpu: '250m', memory: '256Mi' },
    },
    podSecurityContext: restrictedPod(ADAPTER_USER),
    securityContext: { ...RESTRICTED_CONTAINER, runAsUser: ADAPTER_USER },
    nodeSelector,
  };
}
