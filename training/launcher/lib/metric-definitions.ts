// Imported, not read from disk: bundlers (the retraining pipeline's Lambda) carry it along.
import referenceDefinitions from '../../reference/metric_definitions.json';
import type { TrainingPlatform } from './platform';

export interface MetricDefinition {
  Name: string;
  Regex: string;
}

/** The regexes match the reference trainer's log lines (its tests check that); SSM may override them. */
export function metricDefinitions(platform: TrainingPlatform): MetricDefinition[] {
  return platform.metricDefinitions ?? (referenceDefinitions as MetricDefinition[]);
}

/** Losses are minimised, every other metric maximised (tuning objectives, `experiments --sort-by`). */
export function lowerIsBetter(metric: string): boolean {
  return metric.endsWith(':loss');
}
