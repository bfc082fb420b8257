import {
  judgeCanary,
  type CanaryPolicy,
  type VersionFigures,
} from '../../training/launcher/pipeline/canary';

const policy: CanaryPolicy = {
  minCanaryRequests: 100,
  maxErrorRateIncrease: 0.01,
  maxLatencyIncrease: 0.2,
  maxLowConfidenceIncrease: 0.05,
  errorRateThreshold: 0.05,
  latencyP99Ms: 100,
};

const production: VersionFigures = {
  requests: 9000,
  errors: 9,
  latencyP99Ms: 40,
  predictions: 9000,
  lowConfidencePredictions: 900,
};

const canary = (f: Partial<VersionFigures>): VersionFigures => ({
  requests: 1000,
  errors: 1,
  latencyP99Ms: 42,
  predictions: 1000,
  lowConfidencePredictions: 100,
  ...f,
});

describe('the canary check', () => {
  // GIVEN the candidate's figures over a 15-minute bake; THEN the exact outcome and reason.
  const cases: [string, VersionFigures, VersionFigures, string, string][] = [
    [
      'a healthy canary',
      canary({}),
      production,
      'healthy',
      '1000 requests in 15 minutes: error rate 0.1% (production 0.1%), p99 42 ms (production 40 ms), low confidence 10% (production 10%)',
    ],
    [
      'too little traffic',
      canary({ requests: 40, predictions: 40 }),
      production,
      'low-traffic',
      'the candidate answered 40 requests in 15 minutes, fewer than the 100 needed to judge it (pipeline.minCanaryRequests)',
    ],
    [
      'an error rate above production by more than allowed',
      canary({ errors: 30 }),
      production,
      'unhealthy',
      'error rate 3% above 1.1% (production 0.1% + pipeline.canary.maxErrorRateIncrease 0.01)',
    ],
    [
      'an error rate above the alarm threshold, whatever production does',
      canary({ errors: 80 }),
      { ...production, errors: 720 },
      'unhealthy',
      'error rate 8% above 5% (monitoring.errorRateThreshold)',
    ],
    [
      'a p99 latency 50% above production',
      canary({ latencyP99Ms: 60 }),
      production,
      'unhealthy',
      'p99 latency 60 ms above 48 ms (production 40 ms x (1 + pipeline.canary.maxLatencyIncrease 0.2))',
    ],
    [
      'a p99 latency above the service target',
      canary({ latencyP99Ms: 130 }),
      { ...production, latencyP99Ms: 120 },
      'unhealthy',
      'p99 latency 130 ms above 100 ms (serving.latencyP99Ms)',
    ],
    [
      'a low-confidence share far above production',
      canary({ lowConfidencePredictions: 300 }),
      production,
      'unhealthy',
      'low-confidence share 30% above 15% (production 10% + pipeline.canary.maxLowConfidenceIncrease 0.05)',
    ],
  ];

  test.each(cases)('%s', (_name, candidate, prod, outcome, reason) => {
    const verdict = judgeCanary(candidate, prod, policy, 15);
    expect({ outcome: verdict.outcome, reason: verdict.reason }).toEqual({ outcome, reason });
  });

  test('reports both versions figures as rates', () => {
    const verdict = judgeCanary(canary({ errors: 30 }), production, policy, 15);
    expect(verdict.candidate).toEqual({
      requests: 1000,
      errorRate: 0.03,
      latencyP99Ms: 42,
      lowConfidenceShare: 0.1,
    });
    expect(verdict.production).toEqual({
      requests: 9000,
      errorRate: 0.001,
      latencyP99Ms: 40,
      lowConfidenceShare: 0.1,
    });
  });
});
