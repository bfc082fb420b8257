import { errorMessage, summary } from '../../training/launcher/pipeline/summary';

const TEAM = { team: 'fraud', stage: 'prod' };
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:mlp-fraud-prod-retraining:run-1';

describe('the notification summary', () => {
  test('a rolled-back canary: versions, the gate table, both versions figures and the outcome', () => {
    const { subject, message } = summary('churn', TEAM, {
      outcome: 'rolled-back',
      executionArn: EXECUTION,
      trigger: 'drift',
      gate: {
        passed: true,
        reason: "f1 0.6 against production's 0.58: 1 check passed",
        objective: 'f1',
        rows: [
          { check: 'f1', candidate: 0.6, production: 0.58, required: '>= 0.5771', passed: true },
        ],
        candidateVersion: 'v2',
        productionVersion: 'v1',
      },
      publish: {
        version: 'v2',
        packageArn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/2',
      },
      check: {
        outcome: 'unhealthy',
        reason: 'error rate 8% above 5% (monitoring.errorRateThreshold)',
        decision: 'rollback',
        extensions: 0,
        candidate: { requests: 1000, errorRate: 0.08, latencyP99Ms: 41, lowConfidenceShare: 0.09 },
        production: { requests: 4000, errorRate: 0.001, lowConfidenceShare: 0.1 },
      },
      rollback: { from: 'v2', to: 'v1' },
    });
    expect(subject).toBe('[fraud/prod] retraining rolled-back v2');
    expect(message.split('\n')).toEqual([
      'Retraining of churn (fraud/prod): rolled back: the canary did not hold',
      '',
      `execution: ${EXECUTION}`,
      'trigger: drift',
      'candidate: v2',
      'production: v1',
      'rolled back: v2 -> v1',
      '',
      "Gate (f1): f1 0.6 against production's 0.58: 1 check passed",
      '',
      '| check | candidate | production | required | passed |',
      '| --- | --- | --- | --- | --- |',
      '| f1 | 0.6 | 0.58 | >= 0.5771 | yes |',
      '',
      'Canary: unhealthy: error rate 8% above 5% (monitoring.errorRateThreshold)',
      '',
      '| version | requests | error rate | p99 latency | low confidence |',
      '| --- | --- | --- | --- | --- |',
      '| candidate | 1000 | 8% | 41 ms | 9% |',
      '| production | 4000 | 0.1% | - | 10% |',
    ]);
  });

  test('a failure names the error from a Lambda cause', () => {
    const { message } = summary('churn', TEAM, {
      outcome: 'failed',
      executionArn: EXECUTION,
      error: {
        Error: 'GateInputError',
        Cause: JSON.stringify({
          errorMessage: "the candidate's manifest.json records no objective value",
        }),
      },
    });
    expect(message).toContain(
      'Retraining of churn (fraud/prod): failed: nothing was promoted, production is unchanged',
    );
    expect(message.split('\n').at(-1)).toBe(
      "error: GateInputError: the candidate's manifest.json records no objective value",
    );
  });

  test("a manual stage's registry decision: who approved, or the rejection's reason", () => {
    const publish = {
      version: 'v2',
      packageArn: 'arn:aws:sagemaker:eu-west-1:1:model-package/g/2',
    };
    const approved = summary('churn', TEAM, {
      outcome: 'promoted',
      executionArn: EXECUTION,
      publish,
      approval: { approvedBy: 'arn:aws:iam::123456789012:user/alice' },
    });
    expect(approved.message.split('\n')).toContain(
      'approved in the model registry by arn:aws:iam::123456789012:user/alice',
    );
    const rejected = summary('churn', TEAM, {
      outcome: 'approval-rejected',
      executionArn: EXECUTION,
      publish,
      approvalError: {
        Error: 'ModelPackageRejected',
        Cause: 'rejected in the model registry by alice: segment us regressed',
      },
    });
    expect(rejected.message.split('\n')).toEqual([
      'Retraining of churn (fraud/prod): not promoted: the package was rejected in the registry',
      '',
      `execution: ${EXECUTION}`,
      'candidate: v2',
      'rejected in the model registry by alice: segment us regressed',
    ]);
  });

  test('an error without a JSON cause is shown as it is', () => {
    expect(
      errorMessage({ Error: 'States.TaskFailed', Cause: 'AlgorithmError: training diverged' }),
    ).toBe('States.TaskFailed: AlgorithmError: training diverged');
    expect(errorMessage(undefined)).toBe('unknown error');
  });
});
