import { SearchCommand, type TrainingJob } from '@aws-sdk/client-sagemaker';
import { main } from '../../training/launcher/main';
import { awsArgs, DUMMY_CREDENTIALS, sageMakerBoundarySuite } from './aws-fixtures';
import { recordingRuntime } from './helpers';

/**
 * Sorting and paging at the SageMaker SDK boundary: moto's Search ignores SortBy and MaxResults
 * and its jobs carry one fixed metric. SSM (the team check) is still moto.
 */
const job = (
  name: string,
  created: string,
  metrics: Record<string, number>,
  hyperparameters: Record<string, string> = {},
): { TrainingJob: TrainingJob } => ({
  TrainingJob: {
    TrainingJobName: name,
    TrainingJobStatus: 'Completed',
    CreationTime: new Date(created),
    HyperParameters: hyperparameters,
    FinalMetricDataList: Object.entries(metrics).map(([MetricName, Value]) => ({
      MetricName,
      Value,
    })),
  },
});

describe('experiments at the SDK boundary', () => {
  const { sagemaker, suite } = sageMakerBoundarySuite('s3://fraud-dev-models/unused.tar.gz');

  test('sorts by a metric with Search, pages on and keeps the best first', async () => {
    // GIVEN two pages of results, one of another team's name containing the prefix
    sagemaker
      .on(SearchCommand)
      .resolvesOnce({
        Results: [
          job(
            'fraud-dev-train-a',
            '2026-11-20T10:00:00Z',
            { 'test:f1': 0.81, 'validation:loss': 0.3 },
            { lr: '0.01', _tuning_objective_metric: 'x' },
          ),
          job('antifraud-dev-train-z', '2026-11-21T10:00:00Z', { 'test:f1': 0.99 }),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        Results: [
          job(
            'fraud-dev-tune-1-001-abc',
            '2026-11-22T10:00:00Z',
            { 'test:f1': 0.86 },
            { lr: '0.003', hidden: '128,64' },
          ),
          job('fraud-dev-train-b', '2026-11-23T10:00:00Z', {}),
        ],
      });
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    // WHEN
    const code = await main(
      ['experiments', ...awsArgs(suite.moto), '--sort-by', 'test:f1', '--max-results', '150'],
      runtime,
    );
    // THEN the exact Search requests: the team's names, Search's metric sort, full pages
    expect(runtime.err).toEqual([]);
    expect(code).toBe(0);
    const request = {
      Resource: 'TrainingJob',
      SearchExpression: {
        Filters: [{ Name: 'TrainingJobName', Operator: 'Contains', Value: 'fraud-dev-' }],
      },
      SortBy: 'Metrics.test:f1',
      SortOrder: 'Descending',
      MaxResults: 100,
    };
    expect(sagemaker.commandCalls(SearchCommand).map((c) => c.args[0].input)).toEqual([
      request,
      { ...request, NextToken: 'page-2' },
    ]);
    // AND the table: best f1 first, the run without it last, SageMaker's own hyperparameters hidden
    expect(runtime.out).toEqual([
      'JOB                       STATUS     CREATED           test:f1  validation:loss  HYPERPARAMETERS',
      'fraud-dev-tune-1-001-abc  Completed  2026-11-22 10:00  0.86     -                hidden=128,64 lr=0.003',
      'fraud-dev-train-a         Completed  2026-11-20 10:00  0.81     0.3              lr=0.01',
      'fraud-dev-train-b         Completed  2026-11-23 10:00  -        -                -',
    ]);
  });

  test('a loss sorts lowest first; without --sort-by the newest run comes first, as JSON', async () => {
    sagemaker.on(SearchCommand).resolves({
      Results: [
        job('fraud-dev-train-a', '2026-11-20T10:00:00Z', { 'validation:loss': 0.4 }),
        job('fraud-dev-train-b', '2026-11-21T10:00:00Z', { 'validation:loss': 0.2 }),
        job('fraud-dev-train-c', '2026-11-22T10:00:00Z', { 'validation:loss': 0.3 }),
      ],
    });
    const byLoss = recordingRuntime(DUMMY_CREDENTIALS);
    await main(
      [
        'experiments',
        ...awsArgs(suite.moto),
        '--sort-by',
        'validation:loss',
        '--max-results',
        '2',
        '--json',
      ],
      byLoss,
    );
    expect(sagemaker.commandCalls(SearchCommand)[0].args[0].input).toMatchObject({
      SortBy: 'Metrics.validation:loss',
      SortOrder: 'Ascending',
      MaxResults: 2,
    });
    expect(JSON.parse(byLoss.out.join('\n')).map((r: { name: string }) => r.name)).toEqual([
      'fraud-dev-train-b',
      'fraud-dev-train-c',
    ]);

    sagemaker.resetHistory();
    const newest = recordingRuntime(DUMMY_CREDENTIALS);
    await main(['experiments', ...awsArgs(suite.moto), '--json'], newest);
    expect(sagemaker.commandCalls(SearchCommand)[0].args[0].input).toMatchObject({
      SortBy: 'CreationTime',
      SortOrder: 'Descending',
      MaxResults: 20,
    });
    expect(JSON.parse(newest.out.join('\n')).map((r: { name: string }) => r.name)).toEqual([
      'fraud-dev-train-c',
      'fraud-dev-train-b',
      'fraud-dev-train-a',
    ]);
  });

  test('says so on stderr when the team has no runs yet', async () => {
    sagemaker.on(SearchCommand).resolves({ Results: [] });
    const runtime = recordingRuntime(DUMMY_CREDENTIALS);
    expect(await main(['experiments', ...awsArgs(suite.moto)], runtime)).toBe(0);
    expect(runtime.out).toEqual([]);
    expect(runtime.err).toEqual(['no training jobs named fraud-dev-* in eu-west-1']);
  });

  test('fails on a fractional --max-results or a --sort-by that is no metric name', async () => {
    for (const [flags, message] of [
      [['--max-results', '2.5'], 'error: --max-results must be a whole number, got 2.5'],
      [
        ['--sort-by', 'f1 desc'],
        "error: --sort-by 'f1 desc' is not a metric name (e.g. validation:loss)",
      ],
    ] as const) {
      const runtime = recordingRuntime(DUMMY_CREDENTIALS);
      expect(await main(['experiments', ...awsArgs(suite.moto), ...flags], runtime)).toBe(2);
      expect(runtime.err).toEqual([message]);
    }
    expect(sagemaker.commandCalls(SearchCommand)).toHaveLength(0);
  });
});
