/**
 * Environment variables the chart sets on the inference container: the contract with the
 * service's `loadConfig` (serving/src/config.ts). Names follow the service's `SERVING_` prefix;
 * rename one only together with the service.
 */
export const SERVING_ENV = {
  /** The model's folder in the store: `s3://<models bucket>/models/<model name>` (layout.ts `modelRoot`). */
  modelSource: 'SERVING_MODEL_SOURCE',
  /** Name the model is served and reported under (URL path and metric dimension `Model`). */
  modelName: 'SERVING_MODEL_NAME',
  /** Seconds between polls of the alias objects (production / candidate). */
  aliasPollSeconds: 'SERVING_POLL_INTERVAL_S',
  /** The port the service listens on. */
  port: 'PORT',
  /** File with one API key per line (blank lines and `#` comments ignored). */
  apiKeysFile: 'SERVING_API_KEYS_FILE',
  /** `true`: emit CloudWatch Embedded Metric Format lines on stdout. */
  emf: 'SERVING_EMF',
  /** CloudWatch namespace of the EMF metrics. */
  emfNamespace: 'SERVING_EMF_NAMESPACE',
  /**
   * Where the metrics go: `cloudwatch` (PutMetricData with the pod role) in EKS, where
   * container logs reach CloudWatch without the EMF log format.
   */
  emfSink: 'SERVING_EMF_SINK',
  /** `s3://...` prefix for sampled request/response capture. */
  captureUri: 'SERVING_CAPTURE_URI',
  /** Share of requests captured (0..1). */
  captureSample: 'SERVING_CAPTURE_SAMPLE',
  /** DynamoDB table of the fleet's predictions (feedback posted to any pod matches). */
  predictionTable: 'SERVING_PREDICTION_TABLE',
  /** Seconds after a prediction that its feedback still counts (the table items' TTL). */
  feedbackWindowSeconds: 'SERVING_FEEDBACK_WINDOW_S',
  /** Requests per second one API key may send to this pod (token bucket; 0: off). */
  rateLimitRps: 'SERVING_RATE_LIMIT_RPS',
  /** Share (0..1) of successful inference requests that get an access log line. */
  accessLogSample: 'SERVING_ACCESS_LOG_SAMPLE',
  /** Requests at least this slow (ms) are always logged, like 4xx and 5xx. */
  slowRequestMs: 'SERVING_SLOW_REQUEST_MS',
  /** Values of the `Team` and `Stage` metric dimensions. */
  team: 'SERVING_TEAM',
  stage: 'SERVING_STAGE',
  /**
   * Delay between SIGTERM and closing; 0 because the pod's preStop sleep already keeps the
   * pod serving while the load balancer and endpoints deregister it.
   */
  shutdownDelayMs: 'SERVING_SHUTDOWN_DELAY_MS',
  /** How long in-flight requests may drain after SIGTERM before the process exits. */
  shutdownTimeoutMs: 'SERVING_SHUTDOWN_TIMEOUT_MS',
  /** Region of the AWS SDK (S3, Secrets Manager): IMDS is blocked by the network policy. */
  awsRegion: 'AWS_REGION',
} as const;
