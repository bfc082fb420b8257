import type { Manifest } from '../../../serving/src/bundle/manifest';

/**
 * Where `publish` writes the ModelQuality statistics that the model package points at: next
 * to the bundle files in the version's folder.
 */
export const MODEL_QUALITY_FILE = 'model_quality.json';

const SECTION: Record<Manifest['task'], string> = {
  binary_classification: 'binary_classification_metrics',
  multiclass_classification: 'multiclass_classification_metrics',
  regression: 'regression_metrics',
};

type Metrics = Record<string, unknown>;

/** `{ name: { value } }` for each finite number (SageMaker Model Monitor's statistics shape). */
function values(metrics: Metrics): Record<string, { value: number }> {
  const out: Record<string, { value: number }> = {};
  for (const [name, value] of Object.entries(metrics))
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = { value };
  return out;
}

/**
 * The manifest's test metrics in the model quality format SageMaker shows for a model
 * package (`<task>_metrics`, each metric `{ "value": ... }`, the confusion matrix by label),
 * plus the per-segment test metrics under `segments`.
 */
export function modelQualityReport(manifest: Manifest): Record<string, unknown> {
  const metrics = (manifest.metrics ?? {}) as Record<string, Metrics | undefined>;
  const test = metrics.test ?? {};
  const section: Record<string, unknown> = values(test);
  const matrix = test.confusion_matrix;
  const labels = manifest.output.labels;
  if (Array.isArray(matrix) && matrix.length === labels.length) {
    section.confusion_matrix = Object.fromEntries(
      labels.map((actual, i) => [
        actual,
        Object.fromEntries(labels.map((predicted, j) => [predicted, (matrix[i] as number[])[j]])),
      ]),
    );
  }
  const report: Record<string, unknown> = {
    version: 0.0,
    dataset: { item_count: typeof test.n === 'number' ? test.n : undefined },
    [SECTION[manifest.task]]: section,
  };
  const segments = metrics.segments as { column?: string; values?: Record<string, Metrics> };
  if (segments?.column && segments.values) {
    report.segments = {
      column: segments.column,
      values: Object.fromEntries(
        Object.entries(segments.values).map(([name, m]) => [name, values(m)]),
      ),
    };
  }
  return report;
}
