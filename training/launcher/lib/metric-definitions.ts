import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REFERENCE_DIR } from './paths';
import type { TrainingPlatform } from './platform';

export interface MetricDefinition {
  Name: string;
  Regex: string;
}

/** The regexes match the reference trainer's log lines (its tests check that); SSM may override them. */
export function metricDefinitions(platform: TrainingPlatform): MetricDefinition[] {
  if (platform.metricDefinitions) return platform.metricDefinitions;
  return JSON.parse(
    readFileSync(path.join(REFERENCE_DIR, 'metric_definitions.json'), 'utf8'),
  ) as MetricDefinition[];
}

/** Losses are minimised, every other metric maximised (tuning objectives, `experiments --sort-by`). */
export function lowerIsBetter(metric: string): boolean {
  return metric.endsWith(':loss');
}
