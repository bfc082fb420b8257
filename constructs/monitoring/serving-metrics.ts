/**
 * The metric contract between the inference service (serving/) and the alarms and dashboard
 * of `TeamMonitoring`. The service emits these through CloudWatch Embedded Metric Format;
 * renaming one here silently breaks an alarm, so change the service and this file together
 * (docs/serving-on-eks.md lists the same table for the service's authors).
 */

/** CloudWatch namespace of every metric the inference service emits. */
export const SERVING_METRICS_NAMESPACE = 'MlPlatform/Serving';

/** Dimension names of every serving metric, in this order: one dimension set per metric. */
export const SERVING_DIMENSIONS = ['Team', 'Stage', 'Model'] as const;

/**
 * The per-version dimension set: the same metrics once more per model version, so a canary's
 * own numbers can be told from production's (`npm run model -- status` reads them).
 */
export const SERVING_VERSION_DIMENSIONS = [...SERVING_DIMENSIONS, 'Version'] as const;

/** Metric names the service emits (EMF), with the statistic the alarms use. */
export const SERVING_METRICS = {
  /** Count of inference requests in the period (statistic: Sum). */
  requests: 'Requests',
  /** Count of responses with status >= 500 (statistic: Sum). */
  errors: 'Errors',
  /** Each pod's p99 request latency over its emit interval, in ms (statistic: Maximum). */
  latencyP99: 'LatencyP99',
  /** Mean prediction confidence over the emit interval, 0..1 (statistic: Average). */
  meanConfidence: 'MeanConfidence',
  /** Largest Population Stability Index over all input features (statistic: Maximum). */
  maxFeatureDriftPsi: 'MaxFeatureDriftPsi',
} as const;

/**
 * Container Insights metric used for ServiceDown: pods behind the Kubernetes Service (the
 * agent maps pods to services through the Service's ready endpoints).
 */
export const CONTAINER_INSIGHTS_NAMESPACE = 'ContainerInsights';
export const RUNNING_PODS_METRIC = 'service_number_of_running_pods';
