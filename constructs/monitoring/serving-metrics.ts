/**
 * The metric contract between the inference service (serving/) and the alarms and dashboard
 * of `TeamMonitoring`. The service's names are defined once in
 * serving/src/cloudwatch-metrics.ts (the service image builds from serving/ alone, so the
 * definition lives there) and re-exported here for the CDK app; docs/serving-on-eks.md lists
 * the same table for the service's authors.
 */
export {
  SERVING_DIMENSIONS,
  SERVING_METRICS,
  SERVING_METRICS_NAMESPACE,
  SERVING_VERSION_DIMENSIONS,
  VERSION_DIMENSION,
} from '../../serving/src/cloudwatch-metrics';

/**
 * Container Insights metric used for ServiceDown: pods behind the Kubernetes Service (the
 * agent maps pods to services through the Service's ready endpoints).
 */
export const CONTAINER_INSIGHTS_NAMESPACE = 'ContainerInsights';
export const RUNNING_PODS_METRIC = 'service_number_of_running_pods';
