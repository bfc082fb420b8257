import { gate, GateInputError, type GatePolicy } from '../../training/launcher/pipeline/gate';

const policy: GatePolicy = {
  promotionMargin: 0.01,
  maxSegmentRegression: 0.02,
  minSegmentRows: 30,
};

/** A manifest's metrics as the reference trainer writes them (objective, verdict, segments). */
function manifest(
  value: number | null,
  opts: {
    metric?: string;
    target?: number | null;
    beats?: boolean;
    segments?: Record<string, { f1?: number; accuracy?: number; n: number }>;
  } = {},
) {
  return {
    metrics: {
      objective: { metric: opts.metric ?? 'f1', parameter: null, target: opts.target ?? null },
      verdict: {
        value,
        target_met: null,
        best_baseline: 'majority',
        best_baseline_value: 0.1,
        margin: value === null ? null : value - 0.1,
        beats_baselines: opts.beats ?? true,
      },
      ...(opts.segments ? { segments: { column: 'region', values: opts.segments } } : {}),
    },
  };
}

describe('the retraining gate', () => {
  // GIVEN a candidate, production (or none) and a policy; THEN the exact outcome and reason.
  const cases: [
    string,
    ReturnType<typeof manifest>,
    ReturnType<typeof manifest> | undefined,
    Partial<GatePolicy>,
    boolean,
    string,
  ][] = [
    [
      'a first model that beats its baselines, no floor',
      manifest(0.5),
      undefined,
      {},
      true,
      'first model: f1 0.5: 1 check passed',
    ],
    [
      'a first model that does not beat its baselines, no floor',
      manifest(0.05, { beats: false }),
      undefined,
      {},
      false,
      'first model: f1 0.05 does not beat its best baseline, and no floor is set (pipeline.gate.primaryFloor)',
    ],
    [
      'a first model above the configured floor',
      manifest(0.72),
      undefined,
      { primaryFloor: 0.7 },
      true,
      'first model: f1 0.72: 1 check passed',
    ],
    [
      'a first model below the configured floor',
      manifest(0.6),
      undefined,
      { primaryFloor: 0.7 },
      false,
      'f1 0.6 misses the floor 0.7 (pipeline.gate.primaryFloor)',
    ],
    [
      'a first model below its objective target (the floor when none is configured)',
      manifest(0.6, { target: 0.65 }),
      undefined,
      {},
      false,
      'f1 0.6 misses the floor 0.65 (training.objective.target)',
    ],
    [
      'a better candidate',
      manifest(0.55),
      manifest(0.5),
      {},
      true,
      "f1 0.55 against production's 0.5: 1 check passed",
    ],
    [
      'a candidate within the margin',
      manifest(0.496),
      manifest(0.5),
      {},
      true,
      "f1 0.496 against production's 0.5: 1 check passed",
    ],
    [
      'a candidate worse than the margin allows',
      manifest(0.45),
      manifest(0.5),
      {},
      false,
      "f1 0.45 misses production's 0.5 x (1 - 0.01) = 0.495 (training.promotionMargin)",
    ],
    [
      'a lower-is-better metric: a larger error fails',
      manifest(12, { metric: 'mae' }),
      manifest(10, { metric: 'mae' }),
      {},
      false,
      "mae 12 misses production's 10 x (1 + 0.01) = 10.1 (training.promotionMargin)",
    ],
    [
      'a lower-is-better metric: a smaller error passes',
      manifest(9, { metric: 'mae' }),
      manifest(10, { metric: 'mae' }),
      {},
      true,
      "mae 9 against production's 10: 1 check passed",
    ],
    [
      'a segment below the floor',
      manifest(0.6, { segments: { eu: { f1: 0.7, n: 400 }, apac: { f1: 0.4, n: 200 } } }),
      undefined,
      { segmentFloor: 0.5 },
      false,
      'segment region=apac (f1) 0.4 is below the floor 0.5 (pipeline.gate.segmentFloor)',
    ],
    [
      'a segment that regressed by more than the allowed points',
      manifest(0.6, { segments: { eu: { f1: 0.7, n: 400 }, us: { f1: 0.5, n: 300 } } }),
      manifest(0.58, { segments: { eu: { f1: 0.69, n: 400 }, us: { f1: 0.55, n: 300 } } }),
      {},
      false,
      "segment region=us (f1) regressed by 0.05 against production's 0.55, more than 0.02 (pipeline.gate.maxSegmentRegression)",
    ],
    [
      'a segment too small to judge is skipped',
      manifest(0.6, { segments: { eu: { f1: 0.7, n: 400 }, tiny: { f1: 0.1, n: 5 } } }),
      manifest(0.58, { segments: { eu: { f1: 0.69, n: 400 }, tiny: { f1: 0.9, n: 5 } } }),
      { segmentFloor: 0.5 },
      true,
      "f1 0.6 against production's 0.58: 3 checks passed",
    ],
    [
      'segments without the objective metric are judged on accuracy',
      manifest(0.6, { segments: { eu: { accuracy: 0.7, n: 400 } } }),
      manifest(0.58, { segments: { eu: { accuracy: 0.75, n: 400 } } }),
      {},
      false,
      "segment region=eu (accuracy) regressed by 0.05 against production's 0.75, more than 0.02 (pipeline.gate.maxSegmentRegression)",
    ],
  ];

  test.each(cases)('%s', (_name, candidate, production, overrides, passed, reason) => {
    const result = gate(candidate, production, { ...policy, ...overrides });
    expect({ passed: result.passed, reason: result.reason }).toEqual({ passed, reason });
  });

  test('the table names each check with both values and what was required', () => {
    const result = gate(
      manifest(0.6, { segments: { eu: { f1: 0.7, n: 400 } } }),
      manifest(0.58, { segments: { eu: { f1: 0.69, n: 400 } } }),
      { ...policy, segmentFloor: 0.5 },
    );
    expect(result.rows).toEqual([
      { check: 'f1', candidate: 0.6, production: 0.58, required: '>= 0.5742', passed: true },
      { check: 'segment region=eu (f1) floor', candidate: 0.7, required: '>= 0.5', passed: true },
      {
        check: 'segment region=eu (f1)',
        candidate: 0.7,
        production: 0.69,
        required: '>= 0.67',
        passed: true,
      },
    ]);
  });

  const bad: [string, object, object | undefined, string][] = [
    [
      'fails on a candidate without metrics',
      {},
      undefined,
      "the candidate's manifest.json records no objective value (metrics.verdict.value): it cannot be judged",
    ],
    [
      'fails on a candidate whose objective value is null',
      manifest(null),
      undefined,
      "the candidate's manifest.json records no objective value (metrics.verdict.value): it cannot be judged",
    ],
    [
      'fails on a corrupt verdict',
      {
        metrics: {
          objective: { metric: 'f1', parameter: null, target: null },
          verdict: { value: 'high' },
        },
      },
      undefined,
      "the candidate's manifest.json: metrics.verdict.value: Invalid input: expected number, received string",
    ],
    [
      'fails on a production manifest without metrics',
      manifest(0.5),
      { metrics: {} },
      "the production's manifest.json records no objective value (metrics.verdict.value): it cannot be judged",
    ],
    [
      'fails when the objectives differ',
      manifest(0.5),
      manifest(0.7, { metric: 'roc_auc' }),
      'the objectives differ: candidate f1, production roc_auc; promote the first model of the new objective by hand (npm run model -- promote)',
    ],
    [
      'fails on malformed segments',
      { metrics: { ...manifest(0.5).metrics, segments: { column: 'region' } } },
      undefined,
      "the candidate's manifest.json: metrics.segments must be {column, values: {<value>: {<metric>: number}}}",
    ],
  ];
  test.each(bad)('%s', (_name, candidate, production, message) => {
    expect(() => gate(candidate, production, policy)).toThrow(GateInputError);
    expect(() => gate(candidate, production, policy)).toThrow(message);
  });
});
