import { z } from 'zod';
import { qualityMetricsShape } from './quality';

/**
 * manifest.json, exactly as docs/model-bundle.md defines it. Unknown keys are an error:
 * a typo must not silently change preprocessing. `metrics` belongs to the trainer: only its
 * quality keys (objective, verdict, baselines; ./quality.ts) have a fixed form.
 */
const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const numericFeature = z.strictObject({
  name: z.string().min(1),
  type: z.literal('numeric'),
  required: z.boolean(),
  min: finite.nullable().optional(),
  max: finite.nullable().optional(),
  impute: finite.nullable().optional(),
  mean: finite,
  std: finite.refine((s) => s >= 0, 'must be >= 0'),
});

const categoricalFeature = z.strictObject({
  name: z.string().min(1),
  type: z.literal('categorical'),
  required: z.boolean(),
  vocabulary: z.array(z.string()).min(1),
  unknown: z.enum(['error', 'ignore']),
  impute: z.string().nullable().optional(),
});

const fractions = z.array(finite);
const edges = z.array(finite);

const numericReference = z.strictObject({
  type: z.literal('numeric'),
  edges,
  fractions,
  missing: finite.optional(),
});
const categoricalReference = z.strictObject({
  type: z.literal('categorical'),
  fractions: z.record(z.string(), finite),
  unknown: finite.optional(),
  missing: finite.optional(),
});

export const manifestSchema = z.strictObject({
  schema_version: z.literal(1),
  name: z.string().regex(/^[a-z0-9-]{1,63}$/, 'must match [a-z0-9-]{1,63}'),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must match [A-Za-z0-9._-]{1,128}'),
  created_at: z.string().min(1),
  framework: z.strictObject({
    name: z.string(),
    version: z.string(),
    onnx_opset: z.number().int().optional(),
  }),
  task: z.enum(['binary_classification', 'multiclass_classification', 'regression']),
  model: z.strictObject({
    file: z.string().regex(/^[^/\\]+$/, 'must be a file name inside the bundle'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
    input_name: z.string(),
    input_dim: z.number().int().positive(),
    output_name: z.string(),
  }),
  features: z.array(z.discriminatedUnion('type', [numericFeature, categoricalFeature])).min(1),
  output: z.strictObject({
    labels: z.array(z.string()),
    positive_label: z.string().optional(),
    /** Binary only: label positive_label when P(positive_label) >= threshold. Absent: argmax. */
    threshold: finite.refine((t) => t >= 0 && t <= 1, 'must be in [0, 1]').optional(),
  }),
  metrics: z.looseObject(qualityMetricsShape).optional(),
  reference: z
    .strictObject({
      n: z.number().int().nonnegative(),
      features: z.record(z.string(), z.discriminatedUnion('type', [numericReference, categoricalReference])),
      prediction: z.strictObject({ edges, fractions }).optional(),
    })
    .optional(),
  golden: z.string().regex(/^[^/\\]+$/, 'must be a file name inside the bundle').default('golden.json'),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type FeatureSpec = Manifest['features'][number];
export type NumericFeature = Extract<FeatureSpec, { type: 'numeric' }>;
export type CategoricalFeature = Extract<FeatureSpec, { type: 'categorical' }>;

export const goldenSchema = z.strictObject({
  atol: finite.refine((a) => a >= 0, 'must be >= 0').default(1e-5),
  cases: z
    .array(
      z.strictObject({
        instance: z.record(z.string(), z.unknown()),
        features: z.array(finite),
        output: z.array(finite),
        /** Classification: the label the service must give (checked unless within atol of the threshold). */
        label: z.string().optional(),
      }),
    )
    .min(1),
});
export type Golden = z.infer<typeof goldenSchema>;

export class BundleError extends Error {
  override readonly name = 'BundleError';
  constructor(
    message: string,
    /** Short machine-readable reason, used as a metric label. */
    readonly reason: string,
  ) {
    super(message);
  }
}

function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${file}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Parse and cross-check a manifest; throws BundleError naming the field. */
export function parseManifest(raw: unknown): Manifest {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new BundleError(formatIssues('manifest.json', parsed.error), 'manifest');
  const m = parsed.data;
  const fail = (msg: string): never => {
    throw new BundleError(`manifest.json: ${msg}`, 'manifest');
  };
  const names = new Set<string>();
  let dim = 0;
  m.features.forEach((f, i) => {
    const at = `features.${i} (${f.name})`;
    if (names.has(f.name)) fail(`${at}: duplicate feature name`);
    names.add(f.name);
    if (f.type === 'numeric') {
      dim += 1;
      if (f.min != null && f.max != null && f.min > f.max) fail(`${at}: min > max`);
      if (!f.required && f.impute == null) fail(`${at}: optional feature needs a numeric impute`);
    } else {
      dim += f.vocabulary.length;
      if (new Set(f.vocabulary).size !== f.vocabulary.length) fail(`${at}: duplicate vocabulary entry`);
      if (!f.required && (f.impute == null || !f.vocabulary.includes(f.impute)))
        fail(`${at}: optional feature needs an impute that is a vocabulary entry`);
    }
  });
  if (dim !== m.model.input_dim)
    fail(`model.input_dim is ${m.model.input_dim} but the features encode to ${dim} columns`);
  const classification = m.task !== 'regression';
  if (classification && m.output.labels.length < 2) fail('output.labels: classification needs >= 2 labels');
  if (!classification && m.output.labels.length !== 0) fail('output.labels: must be [] for regression');
  if (m.output.threshold !== undefined && m.task !== 'binary_classification')
    fail('output.threshold: only binary classification has a decision threshold');
  if (m.task === 'binary_classification') {
    if (m.output.labels.length !== 2) fail('output.labels: binary classification needs exactly 2 labels');
    if (!m.output.positive_label || !m.output.labels.includes(m.output.positive_label))
      fail('output.positive_label: must be one of output.labels');
  }
  for (const [name, ref] of Object.entries(m.reference?.features ?? {})) {
    const f = m.features.find((x) => x.name === name);
    if (!f) fail(`reference.features.${name}: not a feature`);
    else if (f.type !== ref.type) fail(`reference.features.${name}: type differs from the feature`);
    else if (ref.type === 'numeric' && ref.fractions.length !== ref.edges.length + 1)
      fail(`reference.features.${name}: len(fractions) must be len(edges) + 1`);
  }
  const pred = m.reference?.prediction;
  if (pred && pred.fractions.length !== pred.edges.length + 1)
    fail('reference.prediction: len(fractions) must be len(edges) + 1');
  return m;
}

export function parseGolden(raw: unknown): Golden {
  const parsed = goldenSchema.safeParse(raw);
  if (!parsed.success) throw new BundleError(formatIssues('golden.json', parsed.error), 'golden');
  return parsed.data;
}
