/**
 * The CloudWatch metric contract between the inference service and everything that reads its
 * metrics: the team's alarms and dashboard (`TeamMonitoring`, through
 * constructs/monitoring/serving-metrics.ts, which re-exports this module), `npm run model --
 * status` and the pipeline's canary check. Renaming anything here silently breaks a reader,
 * so it is defined once, here, and imported by all of them. This module imports nothing (it
 * is used by the service image and the CDK app alike).
 */

/** CloudWatch namespace of every metric the inference service emits. */
export const SERVING_METRICS_NAMESPACE = 'MlPlatform/Serving';

/**
 * Dimension set the alarms and the dashboard read, in this order: every value is published
 * under it, summed over the model's versions.
 */
export const SERVING_DIMENSIONS = ['Team', 'Stage', 'Model'] as const;

/** The dimension that names the model version (the manifest's `version`, the alias target). */
export const VERSION_DIMENSION = 'Version';

/**
 * Dimension set of the per-version series: every value of a request that a version answered is
 * also published under it (status of a canary, canary check against production).
 */
export const SERVING_VERSION_DIMENSIONS = [...SERVING_DIMENSIONS, VERSION_DIMENSION] as const;

/** Metric names the service emits, with the statistic their readers use. */
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
  /** Count of instances predicted (statistic: Sum). */
  predictions: 'Predictions',
  /** Count of predictions with confidence below 0.6 (statistic: Sum). */
  lowConfidencePredictions: 'LowConfidencePredictions',
  /**
   * Fleet-wide live quality, from feedback (ground truth posted for earlier predictions):
   * additive counts, so that sums over every replica and interval give exact ratios
   *   accuracy  = FeedbackCorrect / (FeedbackCorrect + FeedbackIncorrect)
   *   precision = FeedbackTruePositives / (FeedbackTruePositives + FeedbackFalsePositives)
   *   recall    = FeedbackTruePositives / (FeedbackTruePositives + FeedbackFalseNegatives)
   *   F1        = 2·TP / (2·TP + FP + FN)
   *   MAE       = FeedbackAbsoluteError / FeedbackMatched
   * (a per-replica ratio could not be combined). Published for an interval with feedback only.
   */
  /** Predictions that got feedback (statistic: Sum). */
  feedbackMatched: 'FeedbackMatched',
  /** Classification: matched predictions whose label was right / wrong (statistic: Sum; 0 is published). */
  feedbackCorrect: 'FeedbackCorrect',
  feedbackIncorrect: 'FeedbackIncorrect',
  /** Binary classification, of the positive label (statistic: Sum; 0 is published). */
  feedbackTruePositives: 'FeedbackTruePositives',
  feedbackFalsePositives: 'FeedbackFalsePositives',
  feedbackFalseNegatives: 'FeedbackFalseNegatives',
  /** Regression: sum of |actual − predicted| (statistic: Sum). */
  feedbackAbsoluteError: 'FeedbackAbsoluteError',
} as const;
